/* Kiosk screen: notice and consent, "sensing on" with one-tap withdraw, staff pause, survey. */
"use strict";

(() => {
  const { t, follow, post, say } = MoodSense;
  const sections = ["notice", "sensing", "paused", "survey"].map((id) => document.getElementById(id));
  let surveyTimer = null;
  let lastView = null;

  function show(id) {
    for (const section of sections) section.hidden = section.id !== id;
    // Focus the safe choice only: "No thanks", "Stop sensing", "Skip" (never a survey face).
    const focus = document.querySelector(`#${id} [data-focus]`);
    if (focus && !focus.contains(document.activeElement)) focus.focus();
  }

  function render(view) {
    lastView = view;
    clearTimeout(surveyTimer);
    if (view.consent === "paused") return show("paused");
    if (view.consent === "granted" || view.consent === "active") {
      document.getElementById("notice-mode").hidden = view.mode !== "notice";
      document.getElementById("withdraw").hidden = view.mode === "notice";
      return show("sensing");
    }
    if (view.survey_s > 0) {
      surveyTimer = setTimeout(() => render({ ...view, survey_s: 0 }), view.survey_s * 1000);
      return show("survey");
    }
    return show("notice");
  }

  async function act(url, body, done) {
    const answer = await post(url, body);
    say(answer.ok ? done : t("common.error"));
  }

  document.getElementById("yes").addEventListener("click", () => {
    say("");
    post("/api/kiosk/consent", { action: "grant" }).then((a) => { if (!a.ok) say(t("common.error")); });
  });
  document.getElementById("no").addEventListener("click", () => say(t("kiosk.declined")));
  document.getElementById("withdraw").addEventListener("click", () => {
    act("/api/kiosk/consent", { action: "withdraw" }, t("kiosk.withdrawn"));
  });
  for (const face of document.querySelectorAll(".face")) {
    face.addEventListener("click", () => {
      render({ ...lastView, survey_s: 0 });
      act("/api/kiosk/survey", { answer: Number(face.dataset.answer) }, t("kiosk.survey.thanks"));
    });
  }
  document.getElementById("skip").addEventListener("click", () => render({ ...lastView, survey_s: 0 }));

  follow("/api/kiosk/events", { kiosk: render });
})();
