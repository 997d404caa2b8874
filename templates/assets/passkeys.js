// Passkey buttons (issue 10 §2). A button with data-passkey="register|sign_in|second" asks our
// server for options, runs the WebAuthn ceremony, posts the result as JSON text in a form
// field (so the CSRF check is the same as every form's) and follows the redirect it is given.
// Uses the WebAuthn Level 3 JSON helpers; without them the page says passkeys are unavailable.
"use strict";

function passkeyStatus(button, text) {
  const status = document.getElementById(button.dataset.status);
  status.textContent = text;
}

async function passkeyPost(url, fields) {
  const response = await fetch(url, {
    method: "POST",
    body: new URLSearchParams(fields),
    credentials: "same-origin",
    headers: { Accept: "application/json" },
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(body.error || response.statusText);
  }
  return body;
}

async function runPasskey(button) {
  const form = button.form;
  const fields = {
    csrf_token: form.elements.csrf_token.value,
    txn: form.elements.txn ? form.elements.txn.value : "",
    purpose: button.dataset.passkey,
  };
  if (form.elements.passkey_name) {
    fields.name = form.elements.passkey_name.value;
  }
  const options = await passkeyPost(button.dataset.optionsUrl, fields);
  let credential;
  try {
    if (fields.purpose === "register") {
      const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(options);
      credential = await navigator.credentials.create({ publicKey });
    } else {
      const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(options);
      credential = await navigator.credentials.get({ publicKey });
    }
  } catch (error) {
    throw new Error(button.dataset.cancelled);
  }
  fields.credential = JSON.stringify(credential.toJSON());
  const done = await passkeyPost(button.dataset.verifyUrl, fields);
  window.location.assign(done.redirect);
}

for (const button of document.querySelectorAll("button[data-passkey]")) {
  if (!window.PublicKeyCredential || !PublicKeyCredential.parseRequestOptionsFromJSON) {
    passkeyStatus(button, button.dataset.unsupported);
    continue;
  }
  button.hidden = false;
  button.addEventListener("click", (event) => {
    event.preventDefault();
    button.disabled = true;
    passkeyStatus(button, "");
    runPasskey(button)
      .catch((error) => passkeyStatus(button, error.message))
      .finally(() => { button.disabled = false; });
  });
}
