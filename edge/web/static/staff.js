/* Staff tablet: alerts with acknowledge, kiosk state and staff switch, current visit, recent visits;
   with the store view, the site's other kiosks too (one `device` event per kiosk, whole). */
"use strict";

(() => {
  const { t, clock, follow, post, say, el } = MoodSense;
  const ICONS = { calm: "●", positive: "▲", frustrated: "◆", upset: "▼", unknown: "?" };
  const ARROWS = { improving: "↗", worsening: "↘", stable: "→", mixed: "↕" };
  const MAX_SUMMARIES = 5;
  const state = {
    consent: null, visits: new Map(), alerts: new Map(), summaries: [],
    store: null, devices: new Map(), requested: new Set(),
  };
  const presentSwitch = document.getElementById("staff-present");
  const soundSwitch = document.getElementById("sound");
  let audio = null;

  const short = (id) => id.slice(-6);
  const minutes = (s) => `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, "0")}`;
  const since = (c) => c.base_s + (performance.now() - c.at_ms) / 1000;
  const ticking = new WeakMap();

  /** "for 1:23", kept current by the one-second ticker (which touches nothing else). */
  function duration(c) {
    const node = el("span", "duration", t("staff.for", { duration: minutes(since(c)) }));
    ticking.set(node, c);
    return node;
  }

  function tick() {
    if (document.body.classList.contains("is-offline")) return; // stale: do not pretend
    for (const node of document.querySelectorAll(".duration")) {
      const c = ticking.get(node);
      if (c) node.textContent = t("staff.for", { duration: minutes(since(c)) });
    }
  }

  function badge(moodState) {
    const node = el("span", `badge state-${moodState}`);
    node.append(el("span", "icon", ICONS[moodState] ?? "?"), el("span", "", t(`staff.state.${moodState}`)));
    node.querySelector(".icon").setAttribute("aria-hidden", "true");
    return node;
  }

  /** The direction of the last moods' valences (the same rule for this and other kiosks). */
  function trend(values) {
    if (values.length < 4) return "stable";
    const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const change = mean(values.slice(-3)) - mean(values.slice(0, 3));
    return change > 0.1 ? "improving" : change < -0.1 ? "worsening" : "stable";
  }

  const deviceLabel = (name) => el("span", "device-label", name);

  function alertItem(alert) {
    const item = el("li", `alert state-${alert.payload.state}`);
    const head = el("div", "alert-head");
    if (state.store) head.append(deviceLabel(state.store.device));
    head.append(badge(alert.payload.state), duration(alert.clock));
    item.append(head, el("p", "alert-message", alert.payload.message));
    if (alert.payload.acknowledged) {
      const at = clock(new Date(alert.payload.acknowledged.time));
      item.append(el("p", "acked", `✓ ${t("staff.acked", { time: at })}`));
    } else {
      const button = el("button", "button primary ack", t("staff.ack"));
      button.type = "button";
      button.dataset.alert = alert.payload.alert_id;
      button.disabled = alert.pending === true;
      button.addEventListener("click", () => acknowledge(alert));
      item.append(button);
    }
    return item;
  }

  async function acknowledge(alert) {
    alert.pending = true;
    renderAlerts();
    const answer = await post("/api/staff/ack", { alert_id: alert.payload.alert_id });
    if (!answer.ok) {
      alert.pending = false;
      say(answer.error === "offline" ? t("common.error") : t("staff.alert_gone"));
      renderAlerts();
    }
  }

  /** An alert of another kiosk: acknowledged through that kiosk's signed command topic. */
  function remoteAlertItem(device, alert) {
    const item = el("li", `alert remote state-${alert.state}`);
    const head = el("div", "alert-head");
    head.append(deviceLabel(device), badge(alert.state), duration(alert.clock));
    item.append(head, el("p", "alert-message", alert.message));
    if (alert.acknowledged) {
      const at = clock(new Date(alert.acknowledged.time));
      item.append(el("p", "acked", `✓ ${t("staff.acked", { time: at })}`));
      return item;
    }
    const requested = state.requested.has(alert.alert_id);
    const button = el("button", "button primary ack", requested ? t("staff.ack_sent", { device }) : t("staff.ack"));
    button.type = "button";
    button.dataset.alert = alert.alert_id;
    button.disabled = requested || !state.store.remote_ack;
    button.addEventListener("click", () => acknowledgeRemote(device, alert));
    item.append(button);
    if (!state.store.remote_ack) {
      const reason = el("p", "ack-reason", t("staff.ack_off", { device }));
      reason.id = `why-${alert.alert_id}`;
      button.setAttribute("aria-describedby", reason.id);
      item.append(reason);
    }
    return item;
  }

  async function acknowledgeRemote(device, alert) {
    state.requested.add(alert.alert_id);
    renderAlerts();
    const answer = await post("/api/staff/remote-ack", { device, alert_id: alert.alert_id });
    if (!answer.ok) {
      state.requested.delete(alert.alert_id);
      say(answer.error === "offline" ? t("common.error") : answer.error);
      renderAlerts();
    }
  }

  function visitCard(moodState, clockOf, ref, direction) {
    const item = el("li", `card state-${moodState}`);
    const head = el("div", "alert-head");
    head.append(badge(moodState), duration(clockOf));
    item.append(head, el("p", "meta", `${t("staff.visit", { id: ref })} · ${ARROWS[direction]} ${t(`staff.trend.${direction}`)}`));
    return item;
  }

  function visitItem(id, visit) {
    const mood = visit.moods[visit.moods.length - 1];
    return visitCard(mood ? mood.state : "unknown", visit.clock, short(id), trend(visit.moods.map((m) => m.valence)));
  }

  /** Another kiosk: its name, online or offline since when, and its current visits. */
  function deviceItem(view) {
    const item = el("li", "device");
    const head = el("div", "device-head");
    const online = view.online === true ? "online" : view.online === false ? "offline" : "unknown";
    const since = view.since ? clock(new Date(view.since)) : "";
    head.append(el("h3", "device-name", view.device), el("span", `link link-${online}`, t(`staff.device.${online}`, { time: since })));
    item.append(head);
    if (view.visits.length === 0) {
      item.append(el("p", "empty", t("staff.no_current")));
    } else {
      const cards = el("ul", "cards");
      cards.append(...view.visits.map((v) => visitCard(v.state, v.clock, v.ref, trend(v.valences))));
      item.append(cards);
    }
    return item;
  }

  function summaryItem(end) {
    const peak = end.summary.peak_negative ? t(`staff.state.${end.summary.peak_negative.state}`) : t("staff.none");
    const parts = [
      clock(new Date(end.time)).slice(0, 5),
      minutes(end.duration_s),
      `${t("staff.peak")}: ${peak}`,
      `${t("staff.end")}: ${t(`staff.state.${end.summary.end.state}`)}`,
      `${ARROWS[end.summary.trajectory]} ${t(`staff.trend.${end.summary.trajectory}`)}`,
      t(`staff.reason.${end.end_reason}`),
    ];
    const item = el("li", `summary state-${end.summary.end.state}`, parts.join(" · "));
    return item;
  }

  function fill(listId, emptyId, items) {
    const focused = document.activeElement?.dataset?.alert;
    document.getElementById(listId).replaceChildren(...items);
    document.getElementById(emptyId).hidden = items.length > 0;
    if (focused) document.querySelector(`[data-alert="${focused}"]`)?.focus();
  }

  const byDevice = () => [...state.devices.values()].sort((a, b) => a.device.localeCompare(b.device));
  const renderAlerts = () => fill("alerts", "no-alerts", [
    ...[...state.alerts.values()].map(alertItem), // this kiosk's first
    ...byDevice().flatMap((d) => d.alerts.map((a) => remoteAlertItem(d.device, a))),
  ]);
  const renderDevices = () => fill("devices", "no-devices", byDevice().map(deviceItem));
  const renderVisits = () => fill("interactions", "no-interactions", [...state.visits].map(([id, v]) => visitItem(id, v)));
  const renderSummaries = () => fill("summaries", "no-summaries", state.summaries.map(summaryItem));

  function renderConsent() {
    const consent = state.consent ? state.consent.state : "none";
    const line = document.getElementById("consent");
    line.textContent = t(`staff.consent.${consent}`);
    line.className = `consent consent-${consent}`;
    presentSwitch.checked = consent === "paused";
    document.body.classList.toggle("is-paused", consent === "paused");
  }

  function beep() {
    if (!soundSwitch.checked) return;
    navigator.vibrate?.([200, 100, 200]);
    audio = audio ?? new AudioContext();
    const tone = audio.createOscillator();
    tone.frequency.value = 880;
    tone.connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + 0.25);
  }

  function renderStore() {
    const own = document.getElementById("own-device");
    document.getElementById("store-panel").hidden = state.store === null;
    own.hidden = state.store === null;
    own.textContent = state.store ? t("staff.this_device", { device: state.store.device }) : "";
  }

  const handlers = {
    reset() {
      state.consent = null; state.visits.clear(); state.alerts.clear(); state.summaries = [];
      state.store = null; state.devices.clear();
      renderStore(); renderAlerts(); renderVisits(); renderSummaries(); renderConsent(); renderDevices();
    },
    store(payload) { state.store = payload; renderStore(); },
    device(view) {
      const known = new Set([...state.devices.values()].flatMap((d) => d.alerts.map((a) => a.alert_id)));
      if (view.gone) {
        state.devices.delete(view.device);
      } else {
        const now = performance.now();
        for (const v of view.visits) v.clock = { base_s: v.for_s, at_ms: now };
        for (const a of view.alerts) {
          a.clock = { base_s: a.for_s, at_ms: now };
          if (a.acknowledged) state.requested.delete(a.alert_id);
        }
        state.devices.set(view.device, view);
        if (view.alerts.some((a) => !known.has(a.alert_id))) beep();
      }
      renderDevices(); renderAlerts();
    },
    remote_ack(payload) {
      state.requested.delete(payload.alert_id);
      say(t("staff.remote_refused", { device: payload.device, error: payload.error }));
      renderAlerts();
    },
    consent(payload) { state.consent = payload; renderConsent(); },
    interaction(payload) {
      if (payload.phase === "start") {
        state.visits.set(payload.interaction_id, { moods: [], clock: { base_s: 0, at_ms: performance.now() } });
      } else {
        state.visits.delete(payload.interaction_id);
        state.summaries = [payload, ...state.summaries].slice(0, MAX_SUMMARIES);
        renderSummaries();
      }
      renderVisits();
    },
    mood(payload) {
      const visit = state.visits.get(payload.interaction_id);
      if (!visit) return;
      visit.moods = [...visit.moods, payload].slice(-12);
      visit.clock = { base_s: payload.t_rel_s, at_ms: performance.now() };
      renderVisits();
    },
    alert(payload) {
      if (payload.phase === "end") state.alerts.delete(payload.alert_id);
      else state.alerts.set(payload.alert_id, { payload, clock: { base_s: payload.duration_s, at_ms: performance.now() } });
      if (payload.phase === "new") beep();
      renderAlerts();
    },
  };

  presentSwitch.addEventListener("change", async () => {
    const wanted = presentSwitch.checked;
    const answer = await post("/api/staff/presence", { present: wanted });
    if (!answer.ok) { presentSwitch.checked = !wanted; say(t("common.error")); }
  });
  soundSwitch.checked = localStorage.getItem("moodsense.sound") === "on";
  soundSwitch.addEventListener("change", () => {
    localStorage.setItem("moodsense.sound", soundSwitch.checked ? "on" : "off");
    if (soundSwitch.checked) audio = audio ?? new AudioContext();
  });
  setInterval(tick, 1000);
  follow("/api/staff/events", handlers);
})();
