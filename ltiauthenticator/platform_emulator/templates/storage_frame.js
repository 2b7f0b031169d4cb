// The platform's storage frame (1EdTech "LTI Client Side postMessages"): answers
// lti.capabilities, lti.put_data and lti.get_data from the registered tool's origin.
(function () {
  var cfg = JSON.parse(document.getElementById("config").textContent);
  var kept = {};
  var subjects = ["lti.capabilities", "lti.put_data", "lti.get_data"];
  window.addEventListener("message", function (event) {
    var data = event.data;
    if (!data || typeof data !== "object" || typeof data.subject !== "string") return;
    if (data.subject.slice(-9) === ".response") return;
    function reply(fields) {
      fields.subject = data.subject + ".response";
      fields.message_id = data.message_id;
      event.source.postMessage(fields, event.origin);
    }
    if (subjects.indexOf(data.subject) < 0) {
      reply({error: {code: "unsupported_subject", message: "not supported"}});
      return;
    }
    if (data.subject === "lti.capabilities") {
      reply({supported_messages: [
        {subject: "lti.capabilities"},
        {subject: "lti.put_data", frame: cfg.frame},
        {subject: "lti.get_data", frame: cfg.frame}
      ]});
      return;
    }
    if (event.origin !== cfg.tool_origin) {
      reply({error: {code: "bad_request", message: "origin not registered"}});
      return;
    }
    if (typeof data.key !== "string" || !data.key || typeof data.message_id !== "string") {
      reply({error: {code: "wrong_format", message: "key and message_id are required"}});
      return;
    }
    var slot = event.origin + " " + data.key;
    if (data.subject === "lti.put_data") {
      if (typeof data.value !== "string") {
        reply({key: data.key, error: {code: "wrong_format", message: "value must be a string"}});
        return;
      }
      kept[slot] = data.value;
      reply({key: data.key, value: data.value});
    } else if (Object.prototype.hasOwnProperty.call(kept, slot)) {
      reply({key: data.key, value: kept[slot]});
    } else {
      reply({key: data.key, error: {code: "bad_request", message: "no such key"}});
    }
  });
})();
