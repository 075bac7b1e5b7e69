// The card step: the card is typed into Stripe.js's own fields and goes from the browser
// to Stripe, never to us. Our server only ever sees Stripe's ids and statuses.
//
// One-time:  start (proof-of-work) -> confirmCardPayment -> finish
// Monthly:   start -> confirmCardSetup -> subscribe [-> confirmCardPayment -> finish]
// (the setup-first flow: the card is saved, then the subscription charges it).

const form = document.getElementById("card-form");
const data = form.dataset;
const button = document.getElementById("pay-button");
const errorBox = document.getElementById("card-error");
const statusBox = document.getElementById("card-status");

const stripe = Stripe(data.publishableKey);
const card = stripe.elements().create("card");
card.mount("#card-element");

// The ALTCHA widget (vendored, served by us). Its external build runs each algorithm in
// a worker file of ours, so the page needs no blob: or inline script in its policy.
globalThis.$altcha.algorithms.set("PBKDF2/SHA-256", () =>
  new Worker(new URL("../vendor/altcha/workers/pbkdf2.js", import.meta.url)));
const widget = document.createElement("altcha-widget");
widget.setAttribute("challenge", data.challengeUrl);
widget.setAttribute("configuration", JSON.stringify({ auto: "onload", hideFooter: true }));
document.getElementById("altcha-slot").appendChild(widget);

let solved = null;
let waiting = [];
widget.addEventListener("verified", (event) => {
  solved = event.detail.payload;
  waiting.splice(0).forEach((resolve) => resolve(solved));
});

function solution() {
  return solved ? Promise.resolve(solved) : new Promise((resolve) => waiting.push(resolve));
}

function nextChallenge() {
  // Each solution is spent by one start call; a retry needs a fresh one.
  solved = null;
  widget.reset();
  widget.verify();
}

function showError(message) {
  errorBox.textContent = message;
  errorBox.hidden = false;
  statusBox.textContent = "";
  button.disabled = false;
}

function showStatus(message) {
  errorBox.hidden = true;
  statusBox.textContent = message;
}

async function post(url, body) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": data.csrfToken },
    body: JSON.stringify(body || {}),
  });
  let answer = {};
  try {
    answer = await response.json();
  } catch (e) {
    answer = {};
  }
  if (!response.ok) {
    throw new Error(answer.error || "Something went wrong. Please try again.");
  }
  return answer;
}

function done(answer) {
  if (answer.done) {
    window.location.assign(answer.redirect);
    return true;
  }
  return false;
}

const billing = { name: data.name, email: data.email };

async function oneTime(secret) {
  const result = await stripe.confirmCardPayment(secret, {
    payment_method: { card: card, billing_details: billing },
  });
  // Whatever the browser saw, our server asks Stripe (and counts a failure).
  return finish(result);
}

async function finish(result) {
  const answer = await post(data.finishUrl);
  if (!done(answer) && result && result.error) {
    throw new Error(result.error.message || "The payment did not go through.");
  }
  return answer;
}

async function monthly(secret) {
  const result = await stripe.confirmCardSetup(secret, {
    payment_method: { card: card, billing_details: billing },
  });
  if (result.error) {
    // Reported so the server counts the failure: it answers with the message to show.
    await post(data.subscribeUrl);
    throw new Error(result.error.message);
  }
  const answer = await post(data.subscribeUrl);
  if (done(answer)) {
    return answer;
  }
  // The first month's payment asks for 3-D Secure.
  const payment = await stripe.confirmCardPayment(answer.client_secret);
  return finish(payment);
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  button.disabled = true;
  showStatus("Checking that you are not a robot\u2026");
  try {
    const altcha = await solution();
    showStatus("Contacting our payment processor\u2026");
    const started = await post(data.startUrl, { altcha: altcha });
    nextChallenge();
    if (done(started)) {
      return;
    }
    showStatus("Confirming your payment\u2026");
    if (started.kind === "setup") {
      await monthly(started.client_secret);
    } else {
      await oneTime(started.client_secret);
    }
  } catch (error) {
    nextChallenge();
    showError(error.message);
  }
});
