// Shows the nbgitpuller link the picker will create, as the instructor types.
// Only a preview: the hub builds (and checks) the real link from the posted fields.
(function () {
  "use strict";
  var output = document.getElementById("nbgitpuller-preview");
  if (!output) {
    return;
  }
  var uis = { lab: "lab/tree/", notebook: "tree/" };
  function value(id) {
    return (document.getElementById(id).value || "").trim();
  }
  function update() {
    var repo = value("repo");
    if (!repo) {
      output.textContent = "";
      return;
    }
    var directory = repo.replace(/\/+$/, "").split("/").pop(); // nbgitpuller's targetpath
    var inner = value("repo_path").replace(/^\/+/, "");
    var params = new URLSearchParams();
    params.set("repo", repo);
    if (value("branch")) {
      params.set("branch", value("branch"));
    }
    var prefix = uis[value("ui")] || "";
    if (value("ui") === "notebook" && /\.ipynb$/.test(inner)) {
      prefix = "notebooks/";
    }
    params.set("urlpath", prefix + [directory, inner].filter(Boolean).join("/"));
    output.textContent = output.dataset.base.replace(/\/$/, "") + "/user-redirect/git-pull?" + params;
  }
  ["repo", "branch", "repo_path", "ui"].forEach(function (id) {
    var field = document.getElementById(id);
    field.addEventListener("input", update);
    field.addEventListener("change", update);
    // typing in a destination's fields selects that destination
    field.addEventListener("focus", function () {
      document.getElementById("kind-nbgitpuller").checked = true;
    });
  });
  document.getElementById("path").addEventListener("focus", function () {
    document.getElementById("kind-path").checked = true;
  });
  update();
})();
