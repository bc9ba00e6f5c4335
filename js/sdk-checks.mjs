// What a support chat does with PubNub's JavaScript SDK (npm `pubnub`) and Chat SDK
// (`@pubnub/chat`), run under Node against a PubNub server: the local one in the tests.
//
//   node js/sdk-checks.mjs <check> <origin> [secret key]
//
// Prints one JSON object: what the SDKs returned. The Python tests judge it.
import PubNub from "pubnub";
import { Chat } from "@pubnub/chat";

const [check, origin, secretKey] = process.argv.slice(2);
const keys = { publishKey: "pub-c-test", subscribeKey: "sub-c-test" };
const client = (userId, extra = {}) =>
  new PubNub({ ...keys, userId, origin, ssl: false, ...extra });
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Resolves with the first event of `kind` a listener hears after `act` runs.
function heard(pubnub, kind, channel, act) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${kind} event`)), 10000);
    pubnub.addListener({
      [kind]: (event) => { clearTimeout(timer); resolve(event); },
      status: (status) => {
        if (status.category === "PNConnectedCategory") act().catch(reject);
      },
    });
    pubnub.subscribe({ channels: [channel] });
  });
}

const checks = {
  // A Node backend holding the secret key signs every request: a POST publish in the JS SDK's own
  // way (a v2 GET without the body), a PATCH, a POST and a DELETE with their method and body.
  async signedPostPublish() {
    const server = client("backend", { secretKey });
    const answer = await server.publish({
      channel: "dana-support", message: { text: "signed" }, sendByPost: true,
      meta: { author: "ops" }, customMessageType: "support-note",
    });
    const history = await server.fetchMessages({
      channels: ["dana-support"], includeMeta: true, includeCustomMessageType: true,
    });
    const signal = await server.signal({ channel: "dana-support", message: { type: "typing", value: true } });
    // A repeated query parameter (sort) is signed too.
    await server.objects.setChannelMetadata({ channel: "dana-support", data: { name: "Dana" } });
    await server.objects.setChannelMetadata({ channel: "erin-support", data: { name: "Erin" } });
    const sorted = await server.objects.getAllChannelMetadata({ sort: { name: "desc", updated: "asc" } });
    // A POST with a JSON body and a DELETE are signed with their method (and body).
    const action = await server.addMessageAction({
      channel: "dana-support", messageTimetoken: String(answer.timetoken), action: { type: "receipt", value: "read" },
    });
    const actions = await server.getMessageActions({ channel: "dana-support" });
    await server.removeMessageAction({
      channel: "dana-support", messageTimetoken: String(answer.timetoken), actionTimetoken: action.data.actionTimetoken,
    });
    const actionsLeft = await server.getMessageActions({ channel: "dana-support" });
    await server.objects.removeChannelMetadata({ channel: "erin-support" });
    const left = await server.objects.getAllChannelMetadata();
    return {
      timetoken: String(answer.timetoken), history: history.channels["dana-support"],
      signal: String(signal.timetoken), sorted: sorted.data.map((c) => c.id),
      actions: actions.data.map((a) => a.value), actionsLeft: actionsLeft.data,
      afterRemovals: left.data.map((c) => c.id),
    };
  },

  async appContext() {
    const app = client("app");
    await app.objects.setChannelMetadata({
      channel: "dana-support", data: { name: "Dana's support", type: "support", custom: { plan: "gold" } },
    });
    await app.objects.setChannelMetadata({ channel: "erin-support", data: { name: "Erin's support", type: "support" } });
    await app.objects.setChannelMetadata({ channel: "news", data: { name: "News", type: "public" } });
    const channel = await app.objects.getChannelMetadata({ channel: "dana-support", include: { customFields: true } });
    const filtered = await app.objects.getAllChannelMetadata({
      filter: "type == 'support' && name LIKE 'Dana*'", include: { totalCount: true },
    });
    await app.objects.setUUIDMetadata({ uuid: "dana", data: { name: "Dana Smith", email: "dana@example.com" } });
    await app.objects.setMemberships({
      uuid: "dana", channels: ["dana-support", { id: "news", custom: { muted: true }, status: "active" }],
    });
    const memberships = await app.objects.getMemberships({
      uuid: "dana",
      include: { channelFields: true, customFields: true, statusField: true, totalCount: true },
      filter: "channel.type == 'support'",
    });
    await app.objects.setChannelMembers({ channel: "dana-support", uuids: ["support"] });
    const members = await app.objects.getChannelMembers({
      channel: "dana-support", include: { UUIDFields: true }, sort: { "uuid.id": "asc" },
    });
    await app.objects.removeMemberships({ uuid: "dana", channels: ["news"] });
    const left = await app.objects.getMemberships({ uuid: "dana" });
    await app.objects.removeChannelMetadata({ channel: "erin-support" });
    let removed = null;
    try {
      await app.objects.getChannelMetadata({ channel: "erin-support" });
    } catch (error) {
      removed = error.status.statusCode;
    }
    let badFilter = null;
    try {
      await app.objects.getAllChannelMetadata({ filter: "name ==" });
    } catch (error) {
      badFilter = error.status.statusCode;
    }
    return { channel: channel.data, filtered, memberships, members, left: left.data, removed, badFilter };
  },

  async messageActions() {
    const customer = client("dana");
    const agent = client("support");
    const { timetoken } = await customer.publish({ channel: "dana-support", message: { text: "Thanks!" } });
    const event = await heard(agent, "messageAction", "dana-support", () =>
      customer.addMessageAction({
        channel: "dana-support", messageTimetoken: String(timetoken), action: { type: "reaction", value: "👍" },
      }));
    let twice = null;
    try {
      await customer.addMessageAction({
        channel: "dana-support", messageTimetoken: String(timetoken), action: { type: "reaction", value: "👍" },
      });
    } catch (error) {
      twice = error.status.statusCode;
    }
    const listed = await agent.getMessageActions({ channel: "dana-support" });
    const withActions = await agent.fetchMessages({ channels: ["dana-support"], includeMessageActions: true });
    await customer.removeMessageAction({
      channel: "dana-support", messageTimetoken: String(timetoken), actionTimetoken: event.data.actionTimetoken,
    });
    const after = await agent.getMessageActions({ channel: "dana-support" });
    agent.destroy();
    return {
      event: { event: event.event, data: event.data, publisher: event.publisher },
      twice, listed: listed.data, history: withActions.channels["dana-support"], after: after.data,
    };
  },

  // The Chat SDK's own support-chat flow: a direct conversation with the support user.
  async chatSdk() {
    const chat = await Chat.init({ ...keys, userId: "dana", origin, ssl: false });
    const support = (await chat.getUser("support")) || (await chat.createUser("support", { name: "Support" }));
    const { channel, hostMembership, inviteeMembership } = await chat.createDirectConversation({
      user: support, channelData: { name: "Support for Dana" },
    });
    const found = await chat.getChannel(channel.id);
    const received = new Promise((resolve) => { channel.connect((message) => resolve(message.text)); });
    await pause(300);
    await channel.sendText("Hello from the Chat SDK");
    const live = await received;
    const history = await channel.getHistory({ count: 10 });
    const reacted = await history.messages[0].toggleReaction("👍");
    await channel.startTyping();
    const memberships = await chat.currentUser.getMemberships();
    const publicChannel = await chat.createPublicConversation({ channelId: "lobby", channelData: { name: "Lobby" } });
    const joined = await publicChannel.join();
    return {
      channelId: channel.id, found: found && found.name, live,
      history: history.messages.map((m) => m.text),
      reactions: reacted.reactions.map((r) => r.value),
      host: hostMembership.user.id, invitee: inviteeMembership.user.id,
      memberships: memberships.memberships.map((m) => m.channel.id).sort(),
      joined: joined.channel.id,
    };
  },
};

try {
  const result = await checks[check]();
  process.stdout.write(JSON.stringify(result) + "\n");
  process.exit(0);
} catch (error) {
  process.stderr.write(`${check} failed: ${error && error.stack ? error.stack.slice(0, 2000) : error}\n`);
  if (error && error.status) process.stderr.write(JSON.stringify(error.status).slice(0, 2000) + "\n");
  process.exit(1);
}
