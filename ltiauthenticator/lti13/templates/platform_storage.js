// The tool's side of the 1EdTech "LTI Client Side postMessages" platform storage.
// Served inline by ltiauthenticator.lti13._platform_storage with its configuration in
// the JSON element "lti-storage-config": "put" stores state and nonce state in the
// platform's storage frame, then continues to the platform; "get" reads them back and
// posts them to the callback with the parked launch's ticket.
(function () {
  var cfg = JSON.parse(document.getElementById("lti-storage-config").textContent);
  function storageFrame() {
    var base = window.opener || (window.parent !== window ? window.parent : null);
    if (!base) return null;
    if (cfg.target === "_parent") return base;
    try { return base.frames[cfg.target] || null; } catch (e) { return null; }
  }
  function ask(frame, message) {
    return new Promise(function (resolve, reject) {
      var timer = setTimeout(function () { done(); reject("timeout"); }, cfg.timeout);
      function done() { clearTimeout(timer); window.removeEventListener("message", onMessage); }
      function onMessage(event) {
        var data = event.data;
        if (cfg.origins.indexOf(event.origin) < 0 || !data || typeof data !== "object") return;
        if (data.subject !== message.subject + ".response") return;
        if (data.message_id !== message.message_id) return;
        done();
        if (data.error) reject((data.error && data.error.code) || "error");
        else resolve(data);
      }
      window.addEventListener("message", onMessage);
      frame.postMessage(message, cfg.origin);
    });
  }
  function messageId() {
    var bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }
  function postBack(fields) {
    var form = document.createElement("form");
    form.method = "post";
    form.action = cfg.action;
    Object.keys(fields).forEach(function (name) {
      var input = document.createElement("input");
      input.type = "hidden"; input.name = name; input.value = fields[name];
      form.appendChild(input);
    });
    document.body.appendChild(form);
    form.submit();
  }
  var frame = storageFrame();
  if (cfg.mode === "put") {
    var puts = cfg.items.map(function (item) {
      if (!frame) return Promise.reject("no_frame");
      return ask(frame, {
        subject: "lti.put_data", message_id: messageId(), key: item[0], value: item[1]
      });
    });
    // Cookies are set as well: go on to the platform even when its storage failed.
    Promise.all(puts).catch(function () {}).then(function () {
      window.location.replace(cfg.next);
    });
  } else {
    var gets = cfg.keys.map(function (key) {
      if (!frame) return Promise.reject("no_frame");
      return ask(frame, {subject: "lti.get_data", message_id: messageId(), key: key}).then(
        function (data) {
          if (data.key !== key || typeof data.value !== "string") throw "wrong_format";
          return data.value;
        });
    });
    Promise.all(gets).then(function (values) {
      var fields = {};
      fields[cfg.fields.ticket] = cfg.ticket;
      fields[cfg.fields.state] = values[0];
      fields[cfg.fields.nonce_state] = values[1];
      postBack(fields);
    }, function (reason) {
      var fields = {};
      fields[cfg.fields.ticket] = cfg.ticket;
      fields[cfg.fields.error] = String(reason).slice(0, 40);
      postBack(fields);
    });
  }
})();
