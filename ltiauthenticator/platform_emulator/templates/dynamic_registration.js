// The "add a tool by URL" page: shows the tool's registration page in a frame, or opens
// it in a new window, and closes it when that page (and no other) posts the LTI Dynamic
// Registration close message: {subject: "org.imsglobal.lti.close"}.
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("dr-config").textContent);
  var status = document.getElementById("dr-status");
  var message = document.getElementById("dr-message");
  var ignored = document.getElementById("dr-ignored");
  var openButton = document.getElementById("open-registration");
  var frame = null;
  var opened = null;
  var strays = 0;
  var done = false;

  function toolWindow() {
    return frame ? frame.contentWindow : opened;
  }

  function finish() {
    done = true;
    if (frame) {
      frame.remove();
    }
    if (opened && !opened.closed) {
      opened.close();
    }
    openButton.hidden = true;
    status.textContent = "closed";
    message.textContent =
      "The tool finished registering. It is listed under the course's tools.";
  }

  window.addEventListener("message", function (event) {
    var data = event.data;
    if (done || !data || typeof data !== "object" || data.subject !== "org.imsglobal.lti.close") {
      return;
    }
    // any page can post to this one: only the tool's own page may close it
    if (!event.source || event.source !== toolWindow()) {
      strays += 1;
      ignored.hidden = false;
      ignored.textContent = "Ignored " + strays + " close message(s) from a page other " +
        "than the tool's registration page.";
      return;
    }
    finish();
  });

  function openWindow() {
    // a named window, not noopener: the tool answers through window.opener
    opened = window.open(cfg.tool_url, "tool-registration");
    // a popup blocker may refuse a window opened at page load; a click is never refused
    openButton.hidden = Boolean(opened);
  }

  if (cfg.mode === "window") {
    openButton.addEventListener("click", openWindow);
    openWindow();
  } else {
    // created by the script, after the listener: the tool cannot answer too early
    frame = document.createElement("iframe");
    frame.id = "tool-registration";
    frame.title = "The tool's registration page";
    frame.src = cfg.tool_url;
    document.getElementById("dr-frame-holder").appendChild(frame);
  }
})();
