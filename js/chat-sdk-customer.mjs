// A customer app made with PubNub's Chat SDK (npm `@pubnub/chat`), for a bot whose
// PUBNUB_MESSAGE_CONVERTER is errbot_pubnub.ChatSDKMessageConverter.
//
//   node js/chat-sdk-customer.mjs --origin 127.0.0.1:8090 --user-id dana --name "Dana Smith"
//
// As PubNub's own Chat SDK support-chat sample does, the customer opens a direct conversation
// with the support user; the app also puts that channel in the channel group the bot listens
// to, which only an open keyset allows a customer (under Access Manager the app server opens
// the session: README, "Customer sessions"). Each line typed is sent; agents' replies print as "<agent>: <text>", and a notice as
// "resolved: <text>" (the Chat SDK shows the bot's notices by Message.meta.kind).
import readline from "node:readline";
import { parseArgs } from "node:util";
import { Chat } from "@pubnub/chat";

const { values: options } = parseArgs({
  options: {
    origin: { type: "string" }, // host:port of a local server; PubNub itself when absent
    ssl: { type: "boolean", default: false },
    "publish-key": { type: "string", default: process.env.PUBNUB_PUBLISH_KEY || "pub-c-demo" },
    "subscribe-key": { type: "string", default: process.env.PUBNUB_SUBSCRIBE_KEY || "sub-c-demo" },
    "channel-group": { type: "string", default: process.env.PUBNUB_CHANNEL_GROUP || "support" },
    "support-user-id": { type: "string", default: process.env.PUBNUB_USER_ID || "support" },
    "user-id": { type: "string", default: `customer-${Math.floor(Math.random() * 9000) + 1000}` },
    name: { type: "string" },
    email: { type: "string" },
    token: { type: "string", default: process.env.PUBNUB_TOKEN },
  },
});

const say = (line) => process.stdout.write(line + "\n");
const tell = (line) => process.stderr.write(line + "\n");

const settings = {
  publishKey: options["publish-key"],
  subscribeKey: options["subscribe-key"],
  userId: options["user-id"],
  ssl: options.origin ? options.ssl : true,
};
if (options.origin) settings.origin = options.origin;
if (options.token) settings.authKey = options.token;

const chat = await Chat.init(settings);
if (options.name || options.email) {
  await chat.currentUser.update({ name: options.name, email: options.email });
}
const support = (await chat.getUser(options["support-user-id"]))
  || (await chat.createUser(options["support-user-id"], { name: "Support" }));
const { channel } = await chat.createDirectConversation({
  user: support,
  channelData: { name: `Support for ${options.name || options["user-id"]}` },
});
// The bot hears the customers' channels through its channel group.
await chat.sdk.channelGroups.addChannels({ channels: [channel.id], channelGroup: options["channel-group"] });

const names = new Map(); // user id -> name, for the agents' names on replies
channel.connect((message) => {
  if (message.userId === chat.currentUser.id) return;
  const meta = message.meta || {};
  if (meta.kind) {
    say(`${meta.kind}: ${message.text}`);
  } else {
    say(`${meta.author || names.get(message.userId) || message.userId}: ${message.text}`);
  }
});
channel.getTyping((typing) => {
  if (typing.some((id) => id !== chat.currentUser.id)) tell("(support is typing)");
});
tell(`Connected as '${chat.currentUser.id}' in channel '${channel.id}' (group '${options["channel-group"]}'). Type a message and press Enter.`);

const input = readline.createInterface({ input: process.stdin });
const sending = [];
input.on("line", (line) => {
  const text = line.trim();
  if (!text) return;
  const previous = sending.at(-1) || Promise.resolve();
  sending.push(previous.then(() => channel.sendText(text)).catch((error) => tell(`Error: ${error.message || error}`)));
});
input.on("close", async () => {
  await Promise.all(sending);
  const linger = Number(process.env.CUSTOMER_LINGER_SECONDS || 0);
  setTimeout(() => process.exit(0), linger * 1000);
});
