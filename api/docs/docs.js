// The /docs page: Swagger UI (vendored in swagger-ui/, see its README.md)
// rendering /openapi.json. Everything comes from this server; the page's
// Content-Security-Policy allows nothing else.
//
// /docs?expand=full opens every operation (for Ctrl-F and printing; slow:
// it resolves and renders all of them, minutes in a browser).
"use strict";
window.addEventListener("DOMContentLoaded", function () {
  var expand = new URLSearchParams(window.location.search).get("expand");
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    docExpansion: expand === "full" ? "full" : "list",
    defaultModelRendering: "model", // the schema, not only an example value
    defaultModelExpandDepth: 1,     // a schema's own properties are listed
    defaultModelsExpandDepth: expand === "schemas" ? 1 : 0, // Schemas starts closed
    displayOperationId: true,
    displayRequestDuration: true,
    filter: true,
    showCommonExtensions: true,
    syntaxHighlight: false,         // highlighting every example is slow on 89 operations
    validatorUrl: null,             // the default badge would call validator.swagger.io
  });
});
