// A customer app made with PubNub's Chat SDK (npm `@pubnub/chat`), for a bot whose
// PUBNUB_MESSAGE_CONVERTER is errbot_pubnub.ChatSDKMessageConverter.
//
//   PUBNUB_SESSION_SECRET=... node js/chat-sdk-customer.mjs --origin 127.0.0.1:8090 \
//       --session-url http://127.0.0.1:3141/pubnub/customer-session --user-id dana --name "Dana Smith"
//
// It works under Access Manager with least privilege, as a company's app does: its session (its
// channel, already in a channel group the bot listens to, and with Access Manager a token for
// this customer alone) comes from the bot's customer session service (--session-url, with the
// secret shared with it; README, "Customer sessions"), or from your app server (--channel and
// --token). It never touches a channel group nor anything outside its own channel and its own
// user: it stores its name and email in its own App Context user, then opens the conversation on
// its own channel (`getChannel`, else `createPublicConversation`, which takes GET and UPDATE on
// that channel's metadata: the session's token grants them; no membership, no support user).
// Each line typed is sent; agents' replies print as "<agent>: <text>", and a notice as
// "resolved: <text>", told apart by PubNub's customMessageType (`support-resolved`), which the
// Chat SDK's own PubNub client hands over with each message.
import readline from "node:readline";
import { parseArgs } from "node:util";
import { Chat } from "@pubnub/chat";

const { values: options } = parseArgs({
  options: {
    origin: { type: "string" }, // host:port of a local server; PubNub itself when absent
    ssl: { type: "boolean", default: false },
    "publish-key": { type: "string", default: process.env.PUBNUB_PUBLISH_KEY || "pub-c-demo" },
    "subscribe-key": { type: "string", default: process.env.PUBNUB_SUBSCRIBE_KEY || "sub-c-demo" },
    "user-id": { type: "string", default: `customer-${Math.floor(Math.random() * 9000) + 1000}` },
    name: { type: "string" },
    email: { type: "string" },
    // The bot's customer session service, as the Python customer client and the chat page use it.
    "session-url": { type: "string", default: process.env.PUBNUB_SESSION_URL },
    "session-secret": { type: "string", default: process.env.PUBNUB_SESSION_SECRET },
    // Or a session your app server opened: the channel and the token it gave this customer.
    channel: { type: "string" },
    token: { type: "string", default: process.env.PUBNUB_TOKEN },
  },
});

const say = (line) => process.stdout.write(line + "\n");
const tell = (line) => process.stderr.write(line + "\n");
const stop = (sentence) => {
  tell(sentence);
  process.exit(1);
};

/** The session: {channel, token, publish_key, subscribe_key}, as the service answers it. */
async function openSession() {
  if (!options["session-url"]) {
    if (options.channel) return { channel: options.channel, token: options.token || null };
    stop(
      "No session: give --session-url (the bot's customer session service, with " +
        "PUBNUB_SESSION_SECRET), or --channel and --token from your app server.",
    );
  }
  let answer;
  try {
    answer = await fetch(options["session-url"], {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Authorization: `Bearer ${options["session-secret"] || ""}`,
      },
      body: JSON.stringify({ user_id: options["user-id"] }),
    });
  } catch (error) {
    stop(`The customer session service at ${options["session-url"]} cannot be reached: ${error.cause?.message || error.message}`);
  }
  const body = await answer.json().catch(() => ({}));
  if (!answer.ok) {
    stop(`The customer session service refused (HTTP ${answer.status}): ${body.error || answer.statusText}`);
  }
  return body;
}

/** What PubNub said, in one line: the Chat SDK wraps the PubNub client's status as JSON. */
const reason = (error) => {
  let status = error?.cause?.status ?? error?.status;
  if (typeof status === "string") {
    try {
      status = JSON.parse(status);
    } catch {
      status = null;
    }
  }
  const code = status?.statusCode;
  if (!code) return `${error?.cause?.message || error?.message || error}`;
  const data = status.errorData || {};
  const denied = Object.entries(data.payload || {}).map(([kind, names]) => `${kind} ${names.join(", ")}`);
  return `HTTP ${code} ${data.message || ""}`.trim() + (denied.length ? ` on ${denied.join("; ")}` : "");
};

const session = await openSession();
const settings = {
  publishKey: session.publish_key || options["publish-key"],
  subscribeKey: session.subscribe_key || options["subscribe-key"],
  userId: options["user-id"],
  ssl: options.origin ? options.ssl : true,
};
if (options.origin) settings.origin = options.origin;
if (session.token) settings.authKey = session.token; // the customer's own token, nothing more

let chat, channel;
try {
  chat = await Chat.init(settings);
  if (options.name || options.email) {
    await chat.currentUser.update({ name: options.name, email: options.email });
  }
  channel = (await chat.getChannel(session.channel))
    || (await chat.createPublicConversation({
      channelId: session.channel,
      channelData: { name: `Support for ${options.name || options["user-id"]}` },
    }));
} catch (error) {
  stop(
    `PubNub refused to open the conversation in '${session.channel}' (${reason(error)}): the ` +
      "token must grant READ, WRITE, GET and UPDATE on that channel, GET and UPDATE on this user " +
      '(README, "Access Manager: who needs what").',
  );
}

// PubNub's customMessageType of each notice, by timetoken: the Chat SDK's Message does not carry
// it, its PubNub client does, to its listeners before the channel's own (pubnub 11's order).
const notices = new Map();
chat.sdk.addListener({
  message: (event) => {
    const kind = /^support-(.+)$/.exec(event.customMessageType || "");
    if (kind && event.channel === channel.id) notices.set(String(event.timetoken), kind[1]);
  },
});
channel.connect((message) => {
  if (message.userId === chat.currentUser.id) return;
  const kind = notices.get(String(message.timetoken));
  notices.delete(String(message.timetoken));
  if (kind) {
    say(`${kind}: ${message.text}`);
  } else {
    say(`${message.meta?.author || message.userId}: ${message.text}`);
  }
});
tell(`Connected as '${chat.currentUser.id}' in channel '${channel.id}'. Type a message and press Enter.`);

const input = readline.createInterface({ input: process.stdin });
const sending = [];
input.on("line", (line) => {
  const text = line.trim();
  if (!text) return;
  const previous = sending.at(-1) || Promise.resolve();
  sending.push(previous.then(() => channel.sendText(text)).catch((error) => tell(`Error: ${reason(error)}`)));
});
input.on("close", async () => {
  await Promise.all(sending);
  const linger = Number(process.env.CUSTOMER_LINGER_SECONDS || 0);
  setTimeout(() => process.exit(0), linger * 1000);
});
