// The selected ticket: header, buttons, transcript and context panels.
// Pure rendering of the ticket detail the API returned; no requests here.

import { channelLabel, el, messageItem, productRow, reasonLabel, statusLabel, trailItem } from "./view.js";

const $ = (id) => document.getElementById(id);

export function isOwner(detail, me) {
  return Boolean(detail && detail.agent && me && detail.agent.id === me.id);
}

// Shows `detail` (or the placeholder when it is null) for agent `me`.
export function renderTicket(detail, me) {
  $("ticket-placeholder").hidden = Boolean(detail);
  $("ticket-body").hidden = !detail;
  if (!detail) return;

  const owner = isOwner(detail, me);
  const assigned = detail.status === "assigned";
  $("ticket-title").textContent = `Ticket #${detail.id} \u00b7 ${reasonLabel(detail.reason)}`;
  const who = detail.agent ? ` \u00b7 ${owner ? "you" : detail.agent.display_name}` : "";
  $("ticket-meta").replaceChildren(
    el("span", { className: `status status-${detail.status}` }, statusLabel(detail.status) + who),
    el("span", {}, channelLabel(detail.channel)),
    el("span", { className: "conversation-id", title: "Conversation id" }, detail.conversation_id),
  );

  $("claim").hidden = detail.status !== "queued";
  $("handback").hidden = !(assigned && owner);
  $("close").hidden = !(assigned && owner);

  const canReply = assigned && owner;
  $("reply-text").disabled = !canReply;
  $("reply-send").disabled = !canReply;
  let hint = "";
  if (!canReply) {
    if (detail.status === "queued") hint = "Claim the ticket to reply.";
    else if (assigned) hint = `Only ${detail.agent ? detail.agent.display_name : "its agent"} can reply.`;
    else hint = "This conversation is back with the bot.";
  }
  $("reply-hint").textContent = hint;

  renderTranscript(detail);
  renderContext(detail);
}

// Pairs each customer message with its trail point (same text, in order).
function sentimentByMessage(detail) {
  let points = [...detail.sentiment_trail];
  const found = new Map();
  for (const message of detail.messages) {
    if (message.author !== "customer") continue;
    const text = String(message.text).slice(0, 500);
    const index = points.findIndex((point) => point.text === text);
    if (index === -1) continue;
    found.set(message.id, points[index]);
    points = points.slice(index + 1);
  }
  return found;
}

// Redraws the transcript, staying at the bottom if the agent was there.
export function renderTranscript(detail) {
  const list = $("transcript");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  const sentiments = sentimentByMessage(detail);
  list.replaceChildren(...detail.messages.map((message) => messageItem(message, sentiments.get(message.id))));
  if (atBottom || list.dataset.ticketId !== String(detail.id)) list.scrollTop = list.scrollHeight;
  list.dataset.ticketId = String(detail.id);
}

function renderContext(detail) {
  $("trail").replaceChildren(...detail.sentiment_trail.map(trailItem));
  $("trail-empty").hidden = detail.sentiment_trail.length > 0;
  $("intents").replaceChildren(...detail.recent_intents.map((intent) => el("li", { className: "chip" }, intent)));
  $("intents-empty").hidden = detail.recent_intents.length > 0;
  $("products-body").replaceChildren(...detail.recommended.map(productRow));
  $("products").hidden = detail.recommended.length === 0;
  $("products-empty").hidden = detail.recommended.length > 0;
}
