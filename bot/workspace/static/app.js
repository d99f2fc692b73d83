// The case workspace's only script: sign in with Telegram's launch data, then fetch each
// page's content (rendered on the server) with the session in a header. No words live
// here: every message comes from the server or from the shell's <template> elements.
(function () {
  "use strict";
  var main = document.getElementById("page");
  var announce = document.getElementById("announce");
  var api = main.getAttribute("data-api");
  var prefix = main.getAttribute("data-prefix");
  var KEY = "marac-workspace-session";
  var token = null;
  try { token = window.sessionStorage.getItem(KEY); } catch (e) { token = null; }
  var hash = new URLSearchParams(window.location.hash.slice(1));

  function telegram() { return window.Telegram && window.Telegram.WebApp; }

  function launchData() {
    var app = telegram();
    if (app && app.initData) { return app.initData; }
    return hash.get("tgWebAppData") || "";
  }

  function applyTheme() {
    // Telegram's script sets these itself; without it (an ordinary browser) read the hash.
    if (telegram() && telegram().themeParams) { return; }
    var raw = hash.get("tgWebAppThemeParams");
    if (!raw) { return; }
    try {
      var theme = JSON.parse(raw);
      Object.keys(theme).forEach(function (name) {
        if (/^[a-z_]+$/.test(name) && /^#[0-9a-fA-F]{3,8}$/.test(theme[name])) {
          document.documentElement.style.setProperty("--tg-theme-" + name.replace(/_/g, "-"), theme[name]);
        }
      });
    } catch (e) { /* an unreadable theme leaves the default colours */ }
  }

  function fromTemplate(id) {
    var template = document.getElementById(id);
    main.innerHTML = "";
    main.appendChild(template.content.cloneNode(true));
    focusHeading();
  }

  function focusHeading() {
    var target = main.querySelector("[data-focus] h2") || main.querySelector("h1");
    var focused = main.querySelector("[data-focus]");
    if (focused) { focused.scrollIntoView(); }
    if (target) {
      target.setAttribute("tabindex", "-1");
      target.focus({ preventScroll: !!focused });
      document.title = target.textContent + " – " + document.title.split(" – ").pop();
    }
  }

  function show(html, message) {
    main.innerHTML = html;
    focusHeading();
    var saved = main.querySelector("#saved, [role=alert]");
    if (saved) { announce.textContent = saved.textContent; }
    else if (message) { announce.textContent = message; }
    wire();
  }

  function forget() {
    token = null;
    try { window.sessionStorage.removeItem(KEY); } catch (e) { /* private mode */ }
  }

  function signIn() {
    var data = launchData();
    if (!data) { fromTemplate("needs-telegram"); return Promise.resolve(false); }
    return fetch(api + "/session", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ initData: data }),
      credentials: "omit"
    }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok || !body.token) {
          main.innerHTML = "";
          var heading = document.createElement("h1");
          heading.textContent = document.title;
          var text = document.createElement("p");
          text.textContent = body.message || "";
          main.appendChild(heading);
          main.appendChild(text);
          focusHeading();
          return false;
        }
        token = body.token;
        try { window.sessionStorage.setItem(KEY, token); } catch (e) { /* private mode */ }
        if (window.location.hash) {
          // The launch data is not left in the address bar (or in history).
          window.history.replaceState(window.history.state, "", window.location.pathname);
        }
        return true;
      });
    });
  }

  function request(url, options, retried) {
    var ready = token ? Promise.resolve(true) : signIn();
    return ready.then(function (ok) {
      if (!ok) { return null; }
      options.headers = options.headers || {};
      options.headers.Authorization = "Bearer " + token;
      options.credentials = "omit";
      return fetch(url, options).then(function (response) {
        if (response.status === 401 && !retried) {
          forget();
          return request(url, options, true);
        }
        var type = response.headers.get("Content-Type") || "";
        if (type.indexOf("application/json") === 0) {
          return response.json().then(function (body) {
            forget();
            var text = document.createElement("p");
            text.textContent = body.message || "";
            main.innerHTML = "";
            main.appendChild(text);
            focusHeading();
            return null;
          });
        }
        return response.text();
      });
    }).catch(function () { fromTemplate("unavailable"); return null; });
  }

  function load(page) {
    return request(api + "/page/" + page, { method: "GET" }).then(function (html) {
      if (html !== null) { show(html); }
    });
  }

  function wire() {
    Array.prototype.forEach.call(main.querySelectorAll("a[data-page]"), function (link) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        var page = link.getAttribute("data-page");
        window.history.pushState({ page: page }, "", prefix + "/" + page);
        load(page);
      });
    });
    Array.prototype.forEach.call(main.querySelectorAll("form"), function (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        var button = form.querySelector("button[type=submit]");
        if (button) {
          button.disabled = true;
          announce.textContent = document.getElementById("saving").content.textContent;
        }
        request(form.getAttribute("action"), {
          method: "POST",
          headers: { "Content-Type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams(new FormData(form)).toString()
        }).then(function (html) {
          if (html !== null) { show(html); }
          else if (button) { button.disabled = false; }
        });
      });
    });
  }

  window.addEventListener("popstate", function (event) {
    var page = (event.state && event.state.page) || main.getAttribute("data-page");
    load(page);
  });

  applyTheme();
  var app = telegram();
  if (app) { try { app.ready(); app.expand(); } catch (e) { /* older clients */ } }
  load(main.getAttribute("data-page"));
})();
