'use strict';
// GitHub App authentication as GitHub documents it
// (https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app):
// an RS256 JWT whose `iss` is the App's id (or client id), `exp` at most 10 minutes after
// `iat`, exchanged for installation tokens that expire after one hour.

const crypto = require('node:crypto');

const k_max_jwt_lifetime_s = 600; // "no more than 10 minutes into the future"
const k_clock_skew_s = 60; // GitHub's docs recommend iat 60 s in the past for drift
const k_token_lifetime_s = 3600; // "Installation access tokens expire after 1 hour"

function b64url_json(part) {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

// Returns null when the JWT is acceptable, else the reason.
function verify_jwt(jwt, public_key, app_ids, now_s) {
  const parts = jwt.split('.');
  if (parts.length !== 3) {
    return 'the JWT does not have three parts';
  }
  let header;
  let claims;
  try {
    header = b64url_json(parts[0]);
    claims = b64url_json(parts[1]);
  } catch {
    return 'the JWT header or claims are not base64url JSON';
  }
  if (header.alg !== 'RS256') {
    return `the JWT algorithm must be RS256, not ${header.alg}`;
  }
  const ok = crypto.verify('RSA-SHA256', Buffer.from(`${parts[0]}.${parts[1]}`),
    public_key, Buffer.from(parts[2], 'base64url'));
  if (!ok) {
    return 'the JWT signature does not verify with the App\'s public key';
  }
  if (!app_ids.includes(String(claims.iss))) {
    return `the JWT issuer ${JSON.stringify(claims.iss)} is not this App's id`;
  }
  if (!Number.isInteger(claims.iat) || !Number.isInteger(claims.exp)) {
    return 'the JWT iat and exp claims must be integers';
  }
  if (claims.exp - claims.iat > k_max_jwt_lifetime_s) {
    return `'Expiration time' claim ('exp') is too far in the future (exp - iat = ${claims.exp - claims.iat} s > 600 s)`;
  }
  if (claims.exp <= now_s) {
    return '\'Expiration time\' claim (\'exp\') must be a numeric value representing the future time at which the assertion expires';
  }
  if (claims.iat > now_s + k_clock_skew_s) {
    return '\'Issued at\' claim (\'iat\') must be an Integer representing the time that the assertion was issued';
  }
  return null;
}

class token_store {
  constructor() {
    this.tokens = new Map(); // token -> {installation_id, expires_at_ms}
  }

  issue(installation_id, now_ms) {
    // Varying length on purpose: GitHub says tokens have no fixed length.
    const len = 36 + crypto.randomInt(0, 45);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
    let body = '';
    const bytes = crypto.randomBytes(len);
    for (let i = 0; i < len; i++) {
      body += alphabet[bytes[i] % alphabet.length];
    }
    const token = `ghs_${body}`;
    const expires_at_ms = now_ms + k_token_lifetime_s * 1000;
    this.tokens.set(token, { installation_id, expires_at_ms });
    return { token, expires_at: new Date(expires_at_ms).toISOString().replace(/\.\d{3}Z$/, 'Z') };
  }

  // The installation id the token is valid for, or null.
  check(token, now_ms) {
    const t = this.tokens.get(token);
    if (!t || t.expires_at_ms <= now_ms) {
      return null;
    }
    return t.installation_id;
  }

  expire_all() {
    for (const t of this.tokens.values()) {
      t.expires_at_ms = 0;
    }
  }
}

// Parses an Authorization header into {kind: 'jwt'|'token'|'basic'|'none', value}.
function parse_authorization(header) {
  if (!header) {
    return { kind: 'none' };
  }
  const m = /^(\S+)\s+(.+)$/.exec(header.trim());
  if (!m) {
    return { kind: 'malformed' };
  }
  const scheme = m[1].toLowerCase();
  const value = m[2].trim();
  if (scheme === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return { kind: 'basic', user: decoded.slice(0, colon), value: decoded.slice(colon + 1) };
  }
  if (scheme === 'bearer' || scheme === 'token') {
    // A JWT has exactly two dots; installation tokens have none.
    return { kind: value.split('.').length === 3 ? 'jwt' : 'token', scheme, value };
  }
  return { kind: 'malformed' };
}

module.exports = { verify_jwt, token_store, parse_authorization, k_token_lifetime_s };
