/**
 * NATS_URL credentials as the client's connect options. nats.js ignores userinfo in a server URL,
 * so `nats://TOKEN@host:4222` or `nats://user:pass@host:4222` would connect without credentials
 * and be refused ("Authorization Violation"). The userinfo is taken out of the URL here:
 * `user:pass@` → user and pass, a bare `token@` → token (percent-decoded, as URLs encode them).
 */
export interface NatsServerAndCredentials {
  servers: string;
  user?: string;
  pass?: string;
  token?: string;
}

export function natsConnectTarget(url: string): NatsServerAndCredentials {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { servers: url };
  }
  if (u.username === "" && u.password === "") return { servers: url };
  const user = decodeURIComponent(u.username);
  const pass = decodeURIComponent(u.password);
  u.username = "";
  u.password = "";
  const servers = u.toString().replace(/\/$/, "");
  return pass === "" ? { servers, token: user } : { servers, user, pass };
}
