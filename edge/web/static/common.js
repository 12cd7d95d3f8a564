/* Shared by the kiosk and staff pages: messages, live stream with reconnect, JSON POSTs. */
"use strict";

const MoodSense = (() => {
  const messages = JSON.parse(document.getElementById("messages").textContent);
  const lang = document.documentElement.lang;

  /** The text for `key`, with `{name}` placeholders filled from `values`. */
  function t(key, values = {}) {
    const text = messages[key] ?? key;
    return text.replace(/\{(\w+)\}/g, (_m, name) => String(values[name] ?? ""));
  }

  /** HH:MM:SS in the page's language, 24-hour clock. */
  function clock(date) {
    return date.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  }

  /** Show "offline since ..." while the stream is down; hide it when it is back. */
  function offlineBanner() {
    const banner = document.getElementById("offline");
    let since = null;
    return {
      down() {
        if (since !== null) return;
        since = new Date();
        banner.textContent = t("common.offline", { time: clock(since) });
        banner.hidden = false;
        document.body.classList.add("is-offline");
      },
      up() {
        since = null;
        banner.hidden = true;
        document.body.classList.remove("is-offline");
      },
    };
  }

  /**
   * Follow an SSE stream. EventSource reconnects by itself after a dropped connection; when
   * it gives up (the server answered with an error), open a new one after a pause.
   */
  function follow(url, handlers) {
    const banner = offlineBanner();
    let retryMs = 1000;
    function open() {
      const source = new EventSource(url);
      source.onopen = () => { retryMs = 1000; banner.up(); };
      source.onerror = () => {
        banner.down();
        if (source.readyState === EventSource.CLOSED) {
          setTimeout(open, retryMs);
          retryMs = Math.min(retryMs * 2, 15000);
        }
      };
      for (const [name, handle] of Object.entries(handlers)) {
        source.addEventListener(name, (event) => handle(JSON.parse(event.data)));
      }
    }
    open();
  }

  /** POST `body` as JSON; resolves to the parsed answer, which has `ok`. */
  async function post(url, body) {
    try {
      const response = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      return await response.json();
    } catch (_error) {
      return { ok: false, error: "offline" };
    }
  }

  let sayTimer = null;

  /** Put `text` in the page's polite status line, for `forMs` (a new message replaces it). */
  function say(text, forMs = 10000) {
    const line = document.getElementById("message");
    line.textContent = text;
    clearTimeout(sayTimer);
    if (text) sayTimer = setTimeout(() => { line.textContent = ""; }, forMs);
  }

  /** A new element with a class and text. */
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  return { t, clock, follow, post, say, el };
})();
