/*
 * The customer side of support chat, on PubNub's JavaScript SDK and nothing else.
 *
 * A starting point for a company's own widget: one channel per customer, in a support channel
 * group where the support bot listens, opened by the company's server (the customer session)
 * or, on an open keyset, by the page itself ("<user id>-support"). Settings come from
 * window.SUPPORT_CHAT (config.js):
 *   publishKey, subscribeKey  the keyset
 *   origin, ssl               where PubNub is (origin null: PubNub itself)
 *   channelGroup              the group the bot listens to (PUBNUB_CHANNEL_GROUP)
 *   messageFormat             "default" ({kind, time, text}) or "chat-sdk" ({type, text, files}),
 *                             as the bot's PUBNUB_MESSAGE_CONVERTER reads and writes
 *   ratingQuestion            the bot's SUPPORT_RATING_QUESTION: shown as five buttons
 *   sessionUrl                where the company's server opens this customer's session:
 *                             GET <sessionUrl>?user_id=<id> answers {channel, token, ...};
 *                             null: an open keyset, the page puts its channel in the group
 *   supportName               how replies without an agent's name are signed
 */
(function () {
  "use strict";

  var config = window.SUPPORT_CHAT || {};
  var TYPING_EVERY_MS = 3000; // a typing signal at most this often while the customer types
  var TYPING_SHOWN_MS = 6000; // how long an agent's typing signal keeps the indicator on
  var PROBE_EVERY_MS = 2000; // while disconnected, how often to look whether PubNub is back
  var NOTICES = {
    resolved: "Conversation resolved",
    postponed: "Waiting for the next available agent",
  };

  var element = function (id) { return document.getElementById(id); };
  var messagesList = element("support-chat-messages");
  var connection = element("support-chat-connection");
  var composer = element("support-chat-composer");
  var textArea = element("support-chat-text");
  var typingLine = element("support-chat-typing");
  var rating = element("support-chat-rating");
  var profileForm = element("support-chat-profile-form");
  var profileStatus = element("support-chat-profile-status");
  var nameInput = element("support-chat-name");
  var emailInput = element("support-chat-email");

  // --- who this customer is, kept in the browser ------------------------------------------

  var store = window.localStorage;
  var storageKey = function (name) { return "support-chat:" + config.subscribeKey + ":" + name; };
  var randomId = function () {
    var bytes = new Uint8Array(8);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  };
  var userId = store.getItem(storageKey("user-id"));
  if (!userId) {
    userId = "customer-" + randomId();
    store.setItem(storageKey("user-id"), userId);
  }
  var channel = null; // known once the session is open
  var savedProfile = JSON.parse(store.getItem(storageKey("profile")) || "{}");
  nameInput.value = savedProfile.name || "";
  emailInput.value = savedProfile.email || "";

  // What the customer wrote and PubNub has not confirmed yet: kept across reloads and outages.
  var outbox = JSON.parse(store.getItem(storageKey("outbox")) || "[]");
  var saveOutbox = function () { store.setItem(storageKey("outbox"), JSON.stringify(outbox)); };

  // --- PubNub -----------------------------------------------------------------------------

  var pubnubSettings = {
    publishKey: config.publishKey,
    subscribeKey: config.subscribeKey,
    userId: userId,
    ssl: config.ssl !== false,
    // The widget reconnects itself (see probe()), so it hears of a lost connection at once.
    retryConfiguration: PubNub.NoneRetryPolicy ? PubNub.NoneRetryPolicy() : undefined,
  };
  if (config.origin) pubnubSettings.origin = config.origin;
  var pubnub = new PubNub(pubnubSettings);

  var online = null; // unknown until the first status
  var ready = null; // the promise of a registered channel, once per connection
  var flushing = false;
  var probing = null;
  var subscribed = false;
  var ratingAsked = null; // the timetoken of the rating question on show, if any
  var seen = {}; // timetokens shown

  function setOnline(isOnline) {
    if (isOnline === online) return;
    online = isOnline;
    connection.textContent = isOnline ? "Connected" : "Reconnecting… your messages will be sent when the connection is back.";
    connection.classList.toggle("is-offline", !isOnline);
    if (isOnline) {
      if (probing) { window.clearInterval(probing); probing = null; }
      catchUp();
      flush();
    } else {
      ready = null;
      if (!probing) probing = window.setInterval(probe, PROBE_EVERY_MS);
    }
  }

  function probe() {
    pubnub.time().then(function () {
      if (!subscribed) { connect(); return; } // PubNub was away from the start
      pubnub.reconnect();
      setOnline(true);
    }, function () { /* still away */ });
  }

  function connect() {
    return getReady().then(function () {
      subscribed = true;
      pubnub.subscribe({ channels: [channel] });
      return catchUp();
    }, function () {
      setOnline(false);
    });
  }

  function getReady() {
    // The session: the customer's channel in a group the bot listens to, and with Access
    // Manager a token for this customer alone. Opened by the company's server (sessionUrl),
    // or on an open keyset by the page itself.
    if (ready) return ready;
    ready = config.sessionUrl ? openSession() : joinGroup();
    ready.catch(function () { ready = null; });
    return ready;
  }

  function openSession() {
    return fetch(config.sessionUrl + "?user_id=" + encodeURIComponent(userId))
      .then(function (answer) {
        if (!answer.ok) throw new Error("no session (HTTP " + answer.status + ")");
        return answer.json();
      })
      .then(function (session) {
        if (session.token) pubnub.setToken(session.token);
        channel = session.channel;
      });
  }

  function joinGroup() {
    channel = userId + "-support";
    return pubnub.channelGroups.addChannels({ channels: [channel], channelGroup: config.channelGroup });
  }

  pubnub.addListener({
    status: function (event) {
      var category = event.category;
      if (category === "PNConnectedCategory" || category === "PNReconnectedCategory") {
        setOnline(true);
      } else if (/Disconnected|NetworkDown|NetworkIssues|ConnectionError|Timeout/.test(category)) {
        setOnline(false);
      }
    },
    message: function (event) {
      show(event.message, event.publisher, event.userMetadata, event.timetoken);
      if (event.publisher !== userId) hideTyping();
    },
    signal: function (event) {
      var body = event.message;
      if (event.publisher === userId || !body || body.type !== "typing") return;
      if (body.value === false) hideTyping(); else showTyping();
    },
  });

  // --- showing messages -------------------------------------------------------------------

  function read(payload, publisher, meta) {
    // The text and kind of a payload in either format, or null for what is not a message.
    if (payload && typeof payload === "object" && payload.type && payload.type !== "text") return null;
    var text = typeof payload === "string" ? payload
      : payload && (payload.text || payload.message || payload.body || "");
    var kind = (payload && payload.kind) || (meta && meta.kind)
      || (publisher === userId ? "from_customer" : "from_agent");
    return { text: String(text || ""), kind: kind };
  }

  function show(payload, publisher, meta, timetoken) {
    timetoken = String(timetoken);
    var message = read(payload, publisher, meta);
    if (!message || seen[timetoken]) return;
    seen[timetoken] = true;
    var pending = meta && meta.localId && element("support-chat-pending-" + meta.localId);
    if (pending) { // the customer's own message, back from PubNub
      confirm(pending, meta.localId, timetoken);
      return;
    }
    var item = bubble(message.kind, authorOf(message.kind, meta), message.text);
    item.dataset.timetoken = timetoken;
    place(item);
    if (message.kind === "from_agent" && config.ratingQuestion && message.text === config.ratingQuestion) {
      var asked = element("support-chat-rating-question");
      if (asked) asked.removeAttribute("id"); // asked again: the latest question names the buttons
      item.querySelector(".text").id = "support-chat-rating-question";
      ratingAsked = BigInt(timetoken);
      rating.hidden = false;
    } else if (message.kind === "from_customer" && ratingAsked !== null && BigInt(timetoken) > ratingAsked) {
      rating.hidden = true; // answered already (seen again after a reload)
    }
  }

  function authorOf(kind, meta) {
    if (kind === "from_customer") return "You";
    if (NOTICES[kind]) return NOTICES[kind];
    return (meta && meta.author) || config.supportName || "Support";
  }

  function bubble(kind, author, text) {
    var item = document.createElement("li");
    var isNotice = Boolean(NOTICES[kind]);
    item.className = "support-chat__message " + (isNotice ? "notice" : kind.replace("_", "-"));
    var who = document.createElement("span");
    who.className = "author";
    who.textContent = author;
    var body = document.createElement("span");
    body.className = "text";
    body.textContent = text; // text, never markup: whatever anyone wrote stays as written
    item.append(who, body);
    return item;
  }

  function place(item) {
    // In timetoken order, before the messages still waiting to be sent.
    var timetoken = BigInt(item.dataset.timetoken);
    var children = messagesList.children;
    for (var i = 0; i < children.length; i++) {
      var other = children[i].dataset.timetoken;
      if (!other || BigInt(other) > timetoken) {
        messagesList.insertBefore(item, children[i]);
        return;
      }
    }
    messagesList.appendChild(item);
    item.scrollIntoView({ block: "end" });
  }

  function confirm(item, localId, timetoken) {
    item.removeAttribute("id");
    item.dataset.timetoken = timetoken;
    var state = item.querySelector(".state");
    if (state) state.remove();
    messagesList.removeChild(item);
    place(item);
    outbox = outbox.filter(function (entry) { return entry.id !== localId; });
    saveOutbox();
  }

  function showTyping() {
    typingLine.hidden = false;
    window.clearTimeout(showTyping.timer);
    showTyping.timer = window.setTimeout(hideTyping, TYPING_SHOWN_MS);
  }

  function hideTyping() { typingLine.hidden = true; }

  function catchUp() {
    if (!channel) return Promise.resolve(); // no session yet
    // What arrived while the page was closed or the connection away, from Message Persistence.
    return pubnub.fetchMessages({ channels: [channel], count: 100, includeMeta: true, includeUUID: true })
      .then(function (answer) {
        (answer.channels[channel] || []).forEach(function (item) {
          show(item.message, item.uuid, item.meta, item.timetoken);
        });
      }, function () { /* shown live, or at the next reconnection */ });
  }

  // --- writing ----------------------------------------------------------------------------

  function payloadFor(text) {
    if (config.messageFormat === "chat-sdk") return { type: "text", text: text, files: [] };
    return { kind: "from_customer", time: new Date().toISOString(), text: text };
  }

  function queue(text) {
    var entry = { id: randomId(), text: text };
    outbox.push(entry);
    saveOutbox();
    pendingBubble(entry);
    rating.hidden = true;
    flush();
  }

  function pendingBubble(entry) {
    var item = bubble("from_customer", "You", entry.text);
    item.id = "support-chat-pending-" + entry.id;
    var state = document.createElement("span");
    state.className = "state";
    state.textContent = "Sending…";
    item.append(state);
    messagesList.appendChild(item);
    item.scrollIntoView({ block: "end" });
  }

  function flush() {
    // Publishes the outbox in order; stops at the first failure and goes on once back.
    if (flushing || !outbox.length) return;
    flushing = true;
    saveProfileIfChanged()
      .then(getReady)
      .then(function next() {
        var entry = outbox[0];
        if (!entry) return null;
        return pubnub.publish({ channel: channel, message: payloadFor(entry.text), meta: { localId: entry.id } })
          .then(function (answer) {
            var item = element("support-chat-pending-" + entry.id);
            seen[String(answer.timetoken)] = true;
            if (item) confirm(item, entry.id, String(answer.timetoken));
            else outbox = outbox.filter(function (e) { return e.id !== entry.id; });
            saveOutbox();
            return next();
          }, function (error) {
            var status = error && error.status && error.status.statusCode;
            if (!status || status < 400 || status >= 500 || status === 429) throw error; // may pass
            refused(entry, status); // sending it again would be refused again
            return next();
          });
      })
      .then(function () { flushing = false; }, function () {
        flushing = false;
        markWaiting();
        setOnline(false);
      });
  }

  function refused(entry, status) {
    outbox = outbox.filter(function (e) { return e.id !== entry.id; });
    saveOutbox();
    var item = element("support-chat-pending-" + entry.id);
    if (!item) return;
    item.removeAttribute("id");
    item.classList.add("is-refused");
    item.querySelector(".state").textContent = "Not sent: PubNub refused it (HTTP " + status + ")";
  }

  function markWaiting() {
    outbox.forEach(function (entry) {
      var state = document.querySelector("#support-chat-pending-" + entry.id + " .state");
      if (state) state.textContent = "Not sent yet: waiting for the connection";
    });
  }

  function saveProfileIfChanged() {
    var profile = { name: nameInput.value.trim(), email: emailInput.value.trim() };
    if (profile.name === (savedProfile.name || "") && profile.email === (savedProfile.email || "")) {
      return Promise.resolve();
    }
    var data = {};
    if (profile.name) data.name = profile.name;
    if (profile.email) data.email = profile.email;
    return getReady()
      .then(function () { return pubnub.objects.setUUIDMetadata({ uuid: userId, data: data }); })
      .then(function () {
        savedProfile = profile;
        store.setItem(storageKey("profile"), JSON.stringify(profile));
        profileStatus.textContent = "Saved: support will see it.";
      });
  }

  var lastTyping = 0;
  function typing(value) {
    if (!channel) return; // no session yet
    var now = Date.now();
    if (value && now - lastTyping < TYPING_EVERY_MS) return;
    lastTyping = value ? now : 0;
    pubnub.signal({ channel: channel, message: { type: "typing", value: value } })
      .catch(function () { /* a typing signal is not worth a retry */ });
  }

  composer.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = textArea.value.trim();
    if (!text) return;
    textArea.value = "";
    if (lastTyping) typing(false);
    queue(text);
  });
  textArea.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });
  textArea.addEventListener("input", function () { if (textArea.value.trim()) typing(true); });
  rating.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-rating]");
    if (button) queue(button.dataset.rating);
  });
  profileForm.addEventListener("submit", function (event) {
    event.preventDefault();
    profileStatus.textContent = "Saving…";
    saveProfileIfChanged().then(function () {
      profileStatus.textContent = "Saved: support will see it.";
    }, function () {
      profileStatus.textContent = "Not saved: the connection is away. Try again in a moment.";
    });
  });

  // --- start ------------------------------------------------------------------------------

  outbox.forEach(pendingBubble);
  connect();
})();
