// Starts Swagger UI on /docs (a file, not inline script, so the page's CSP forbids inline
// script). validatorUrl null: the default sends the whole schema to validator.swagger.io.
(function () {
  "use strict";
  const box = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: box.dataset.spec,
    dom_id: "#swagger-ui",
    validatorUrl: null,
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
})();
