// The chat page's client: one WebSocket to /ws/{room}?nick=..., JSON both ways.
// Everything a client wrote reaches the page through textContent, never as HTML.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const main = document.getElementById("chat");
  const joinForm = document.getElementById("join");
  const sayForm = document.getElementById("say");
  const nickInput = document.getElementById("nick");
  const roomInput = document.getElementById("room");
  const textInput = document.getElementById("text");
  const status = document.getElementById("status");
  const list = document.getElementById("messages");
  let socket = null;

  function line(kind, parts) {
    const item = document.createElement("li");
    item.className = kind;
    for (const [cls, text] of parts) {
      const span = document.createElement("span");
      span.className = cls;
      span.textContent = text;
      item.append(span);
    }
    list.append(item);
    item.scrollIntoView({ block: "end" });
  }

  function time(iso) {
    return typeof iso === "string" ? iso.slice(11, 16) : "";
  }

  function show(event) {
    switch (event.type) {
      case "message":
        line("message", [["time", time(event.time)], ["nick", event.nick], ["text", event.text]]);
        break;
      case "join":
        line("notice", [["time", time(event.time)], ["text", `${event.nick} joined`]]);
        break;
      case "leave":
        line("notice", [["time", time(event.time)], ["text", `${event.nick} left`]]);
        break;
      case "error":
        line("error", [["text", event.error]]);
        break;
      case "welcome":
        list.replaceChildren();
        status.textContent = `In #${event.room} as ${event.nick}.`;
        for (const past of event.history) show(past);
        sayForm.hidden = false;
        textInput.focus();
        break;
    }
  }

  joinForm.addEventListener("submit", (submit) => {
    submit.preventDefault();
    if (socket) socket.close(1000);
    // The page gives the route's URL (its root path included) with ROOM in place.
    const url = new URL(main.dataset.socket.replace("ROOM", encodeURIComponent(roomInput.value)));
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("nick", nickInput.value);
    const ws = new WebSocket(url);
    socket = ws;
    status.textContent = "Connecting…";
    ws.addEventListener("message", (message) => {
      try {
        show(JSON.parse(message.data));
      } catch (error) {
        line("error", [["text", `unreadable message: ${error}`]]);
      }
    });
    ws.addEventListener("close", (close) => {
      if (socket !== ws) return; // replaced by a newer connection
      socket = null;
      sayForm.hidden = true;
      status.textContent = `Disconnected (${close.code}${close.reason ? `: ${close.reason}` : ""}).`;
    });
  });

  sayForm.addEventListener("submit", (submit) => {
    submit.preventDefault();
    const text = textInput.value.trim();
    if (!socket || socket.readyState !== WebSocket.OPEN || !text) return;
    socket.send(JSON.stringify({ type: "message", text }));
    textInput.value = "";
  });
});
