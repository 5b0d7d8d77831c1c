// kinetoscope studio: progressive enhancement only; every page works without this file.
// 1. The job page follows its progress, queue position, time estimate and live preview over
//    Server-Sent Events and reloads once it is done.
// 2. Choosing a starting image on the create page switches the task to image -> video.
// 3. A Copy button next to a secret shown once (a new API key, an invite link).
// 4. The gallery plays a finished video over its poster while it is pointed at or focused; on a touch
//    screen the first tap plays it and the second opens it.
// 5. The create page says when the chosen size or length is beyond what the model was trained for.
(function () {
  "use strict";

  var job = document.querySelector("[data-events]");
  if (job && window.EventSource) {
    var bar = job.querySelector("[role=progressbar]");
    var fill = job.querySelector(".progress-fill");
    var pct = job.querySelector("[data-progress-text]");
    var text = job.querySelector("[data-status-text]");
    var badge = document.querySelector("[data-badge] .badge");
    var words = JSON.parse(job.getAttribute("data-words"));  // {badge: {status: text}, line: {status: text}}
    var show = function (v) {
      bar.setAttribute("aria-valuenow", v.progress);
      bar.setAttribute("data-status", v.status);
      fill.style.width = v.progress + "%";
      pct.textContent = v.progress + "%";
      text.textContent = words.line[v.status] || v.status;
      if (badge) {
        badge.className = "badge badge-" + v.status;
        badge.textContent = words.badge[v.status] || v.status;
      }
      if (queueText) queueText.textContent = v.queue_position ? "Number " + v.queue_position + " in the queue" : "";
      if (etaText) etaText.textContent = v.eta_seconds == null ? "" : "About " + Math.round(v.eta_seconds) + " s to go (estimated)";
    };
    var queueText = job.querySelector("[data-queue-text]");
    var etaText = job.querySelector("[data-eta-text]");
    var preview = job.querySelector("[data-preview]");
    var events = new EventSource(job.getAttribute("data-events"));
    ["video.queued", "video.in_progress"].forEach(function (name) {
      events.addEventListener(name, function (e) { show(JSON.parse(e.data)); });
    });
    events.addEventListener("video.preview", function (e) {  // the clean estimate so far, sharpening
      var p = JSON.parse(e.data);
      preview.querySelector("[data-preview-image]").src = p.image;
      preview.querySelector("[data-preview-caption]").textContent =
        "Preview after step " + p.step + " of " + p.steps + (p.frames > 1 ? ": first, middle and last frames" : ": the middle frame");
      preview.setAttribute("data-step", p.step);
      preview.hidden = false;
    });
    ["video.completed", "video.failed", "video.cancelled"].forEach(function (name) {
      events.addEventListener(name, function (e) {
        events.close();
        show(JSON.parse(e.data));
        window.location.reload();  // the server renders the player (or the error)
      });
    });
    events.addEventListener("deleted", function () {
      events.close();
      window.location.assign("/gallery");
    });
  }

  var file = document.getElementById("f-input_reference");
  var task = document.getElementById("f-task");
  if (file && task) {
    file.addEventListener("change", function () {
      if (file.files.length && task.value === "t2v" && task.querySelector("option[value=i2v]")) task.value = "i2v";
    });
  }
  var seconds = document.getElementById("f-seconds");
  if (task && seconds) {  // a storyboard's length defaults to its last shot + one clip: do not keep a clip's 2 s
    task.addEventListener("change", function () {
      if (task.value === "storyboard" && seconds.value === seconds.defaultValue) seconds.value = "";
    });
  }

  var playing = null;
  document.querySelectorAll("a[data-play]").forEach(function (link) {
    var media = link.querySelector(".tile-media");
    var video = null, wasPlaying = true;  // false only after a touch that found it stopped
    var stop = function () {
      if (video) { video.pause(); video.hidden = true; }
      link.removeAttribute("data-playing");
      if (playing === stop) playing = null;
    };
    var start = function () {
      if (playing && playing !== stop) playing();
      playing = stop;
      if (!video) {
        video = document.createElement("video");
        video.muted = true;
        video.loop = true;
        video.playsInline = true;
        video.setAttribute("aria-hidden", "true");
        video.src = link.getAttribute("data-play");
        media.appendChild(video);
      }
      video.hidden = false;
      link.setAttribute("data-playing", "");
      var p = video.play();
      if (p) p.catch(function () {});
    };
    link.addEventListener("mouseenter", start);
    link.addEventListener("mouseleave", stop);
    link.addEventListener("focus", start);
    link.addEventListener("blur", stop);
    link.addEventListener("pointerdown", function (e) { wasPlaying = e.pointerType !== "touch" || link.hasAttribute("data-playing"); });
    link.addEventListener("click", function (e) {
      if (!wasPlaying) { e.preventDefault(); start(); }  // a tap that started it: the next tap opens it
      wasPlaying = true;
    });
  });

  var size = document.getElementById("f-size");
  var note = document.getElementById("beyond-note");
  if (note && size && seconds) {
    var trained = parseFloat(seconds.getAttribute("data-trained-seconds"));
    var check = function () {
      var parts = [];
      var option = size.options[size.selectedIndex];
      if (option && option.hasAttribute("data-beyond")) parts.push("size " + option.value);
      if (parseFloat(seconds.value) > trained + 1e-6) parts.push(seconds.value + " s");
      note.hidden = !parts.length;
      note.textContent = parts.length ? parts.join(" and ") + (parts.length > 1 ? " are " : " is ") + note.getAttribute("data-text") : "";
    };
    size.addEventListener("change", check);
    seconds.addEventListener("input", check);
    check();
  }

  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    button.hidden = false;
    button.addEventListener("click", function () {
      source.focus();
      source.select();
      var done = function () { button.textContent = "Copied"; };
      if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(source.value).then(done, function () {});
      else if (document.execCommand("copy")) done();
    });
  });
})();
