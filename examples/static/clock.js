// The server's clock: one "tick" event a second from GET /clock (examples/clock.py).
// EventSource reconnects by itself, sending the last id it saw as Last-Event-ID.
const output = document.getElementById("clock");
const clock = new EventSource(output.dataset.src);

clock.addEventListener("tick", (event) => {
  const tick = JSON.parse(event.data);
  output.textContent = new Date(tick.time).toLocaleTimeString();
  output.title = `${tick.watching} clock(s) open on this server process`;
});

clock.addEventListener("error", () => {
  output.textContent = "reconnecting…";
});
