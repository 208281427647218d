#!/usr/bin/env node
// Validates Teams messages' Adaptive Cards with the official `adaptivecards` library (under jsdom).
//
// Usage: node tests/js/validate_card.js FILE...   (each FILE: a Teams Workflows message or a bare card)
// Prints one JSON line per file: {"file", "version", "events": [...], "rendered": bool}; exits 1 when
// any file has a parse or validation event (errors and warnings alike), a version above 1.5, a
// property the library does not know, or fails to render.
"use strict";

const fs = require("fs");
const path = require("path");
const { JSDOM } = require("jsdom");

// The library touches `window`/`document` when it renders; give it a DOM before loading it.
const dom = new JSDOM("<!DOCTYPE html><html><body></body></html>", { url: "http://127.0.0.1/" });
global.window = dom.window;
for (const key of Object.getOwnPropertyNames(dom.window)) {
  // document, HTMLElement, HTMLButtonElement, ... (getters such as localStorage may throw: skip them)
  if (key in global) continue;
  try {
    global[key] = dom.window[key];
  } catch {
    // not needed by the library
  }
}
// lib/ is extension-less ESM that node cannot load; dist/ is the UMD bundle.
const AC = require("adaptivecards/dist/adaptivecards.js");

const MAX_VERSION = AC.Versions.v1_5; // Teams renders Adaptive Cards up to 1.5
// jsdom has no innerText, which the library uses to set text: map it to textContent.
Object.defineProperty(global.HTMLElement.prototype, "innerText", {
  get() {
    return this.textContent;
  },
  set(value) {
    this.textContent = value;
  },
});
// Teams applies its own markdown; here text is checked as given (and the library stays quiet).
AC.AdaptiveCard.onProcessMarkdown = (_text, result) => {
  result.didProcess = false;
};

// Keys a host may add that the library need not know (Teams' own extension).
const HOST_KEYS = new Set(["msteams", "$schema"]);

function cardOf(document) {
  if (document && document.type === "message") {
    const attachments = document.attachments || [];
    if (attachments.length !== 1) throw new Error(`expected one attachment, got ${attachments.length}`);
    const attachment = attachments[0];
    if (attachment.contentType !== "application/vnd.microsoft.card.adaptive") {
      throw new Error(`attachment contentType is ${attachment.contentType}`);
    }
    return attachment.content;
  }
  return document;
}

// Every key of the input must survive the library's parse + serialise round trip, else the
// library (and so a Teams client) silently ignored it: a typo or a property from a later version.
function unknownKeys(input, output, where, found) {
  if (Array.isArray(input)) {
    input.forEach((item, i) => unknownKeys(item, Array.isArray(output) ? output[i] : undefined, `${where}[${i}]`, found));
    return found;
  }
  if (input === null || typeof input !== "object") return found;
  for (const [key, value] of Object.entries(input)) {
    if (HOST_KEYS.has(key)) continue;
    if (output === undefined || output === null || !(key in output)) {
      // The serialiser drops values equal to the default; that is not an unknown property.
      if (!isDefault(key, value)) found.push(`${where}.${key}`);
      continue;
    }
    unknownKeys(value, output[key], `${where}.${key}`, found);
  }
  return found;
}

// An element or action type introduced after the card's declared version (e.g. a 1.5 Table in a
// card declaring 1.4) is dropped by clients that honour the declared version.
function newerTypes(input, cardVersion, where, found) {
  if (Array.isArray(input)) {
    input.forEach((item, i) => newerTypes(item, cardVersion, `${where}[${i}]`, found));
    return found;
  }
  if (input === null || typeof input !== "object") return found;
  if (typeof input.type === "string" && cardVersion) {
    const registration =
      AC.GlobalRegistry.elements.findByName(input.type) || AC.GlobalRegistry.actions.findByName(input.type);
    if (registration && registration.schemaVersion.compareTo(cardVersion) > 0) {
      found.push(`${where}: ${input.type} needs ${registration.schemaVersion}, card declares ${cardVersion}`);
    }
  }
  for (const [key, value] of Object.entries(input)) newerTypes(value, cardVersion, `${where}.${key}`, found);
  return found;
}

const DEFAULTS = { wrap: false, isSubtle: false, separator: false, bleed: false, contentUrl: null };
function isDefault(key, value) {
  return key in DEFAULTS && DEFAULTS[key] === value;
}

function validate(file) {
  const events = [];
  const document = JSON.parse(fs.readFileSync(file, "utf8"));
  const json = cardOf(document);
  AC.SerializableObject.defaultMaxVersion = MAX_VERSION;
  const card = new AC.AdaptiveCard();
  const context = new AC.SerializationContext(MAX_VERSION);
  card.parse(json, context);
  // Read now: serialising for 1.5 below rewrites card.version.
  const declared = card.version;
  for (let i = 0; i < context.eventCount; i++) {
    const e = context.getEventAt(i);
    events.push({ phase: AC.ValidationPhase[e.phase], event: AC.ValidationEvent[e.event], message: e.message });
  }
  for (const e of card.validateProperties().validationEvents) {
    events.push({ phase: AC.ValidationPhase[e.phase], event: AC.ValidationEvent[e.event], message: e.message });
  }
  const version = declared ? declared.toString() : null;
  if (!declared || declared.compareTo(MAX_VERSION) > 0) {
    events.push({ phase: "Check", event: "UnsupportedCardVersion", message: `version ${version} is above 1.5` });
  }
  const serialised = card.toJSON(new AC.SerializationContext(MAX_VERSION));
  for (const key of unknownKeys(json, serialised, "card", [])) {
    events.push({ phase: "Check", event: "UnknownProperty", message: `${key} is not understood by the library` });
  }
  for (const problem of newerTypes(json, declared, "card", [])) {
    events.push({ phase: "Check", event: "TypeNewerThanCard", message: problem });
  }
  const rendered = card.render();
  if (!rendered || !rendered.textContent) {
    events.push({ phase: "Render", event: "RenderFailed", message: "render() produced no content" });
  }
  return { file: path.basename(file), version, events, rendered: Boolean(rendered) };
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node tests/js/validate_card.js FILE...");
  process.exit(2);
}
let failed = false;
for (const file of files) {
  let result;
  try {
    result = validate(file);
  } catch (error) {
    result = { file: path.basename(file), events: [{ phase: "Load", event: "Exception", message: String(error) }] };
  }
  if (result.events.length) failed = true;
  console.log(JSON.stringify(result));
}
process.exit(failed ? 1 : 0);
