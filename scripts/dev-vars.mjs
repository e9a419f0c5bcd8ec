#!/usr/bin/env node
// Create .dev.vars for `wrangler dev` with a fresh random session key, unless
// one already exists (an existing .dev.vars is never touched).
//
//   SESSION_KEYS="k1:<base64url of 32 random bytes>"
//
// .dev.vars is git-ignored: the key is for local development only.
import { randomBytes } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const file = join(root, ".dev.vars");

if (existsSync(file)) {
  console.log(".dev.vars already exists; leaving it unchanged");
} else {
  const key = randomBytes(32).toString("base64url"); // 43 chars, no padding
  try {
    // flag "wx": fail rather than overwrite if it appeared meanwhile
    writeFileSync(file, `SESSION_KEYS="k1:${key}"\n`, { flag: "wx", mode: 0o600 });
    console.log("wrote .dev.vars with a new random SESSION_KEYS (key id k1)");
  } catch (err) {
    if (err.code !== "EEXIST") throw err;
    console.log(".dev.vars already exists; leaving it unchanged");
  }
}
