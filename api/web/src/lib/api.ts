// The documented API, from the browser. The access token lives in memory only; the refresh
// token is an HttpOnly cookie the page never sees (the `x-taskifai-client: web` header asks for
// it and is the CSRF check). A 401 refreshes once, silently, then gives up.

export interface User {
  id: number;
  email: string;
  full_name: string;
  role: string;
}

let access: string | null = null;
let user: User | null = null;
const listeners = new Set<(u: User | null) => void>();

export function currentUser(): User | null {
  return user;
}

export function onSession(f: (u: User | null) => void): () => void {
  listeners.add(f);
  return () => listeners.delete(f);
}

function setSession(token: string | null, u: User | null) {
  access = token;
  user = u;
  for (const f of listeners) f(u);
}

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    /** The whole JSON answer, for errors that carry details (a catalog file's rows). */
    public body: any = null,
  ) {
    super(message);
  }
}

const WEB = { "x-taskifai-client": "web" };

async function failure(res: Response): Promise<ApiError> {
  let code = "error";
  let message = `${res.status} ${res.statusText}`;
  let body = null;
  try {
    body = await res.json();
    code = body.code ?? code;
    message = body.message ?? message;
  } catch {
    /* not JSON */
  }
  return new ApiError(res.status, code, message, body);
}

async function session(path: string, body: unknown): Promise<User> {
  const res = await fetch(path, {
    method: "POST",
    headers: { ...WEB, "content-type": "application/json" },
    credentials: "same-origin",
    body: JSON.stringify(body),
  });
  if (!res.ok) throw await failure(res);
  const s = await res.json();
  setSession(s.access_token, s.user);
  return s.user;
}

export const signIn = (email: string, password: string) => session("/api/auth/login", { email, password });

export const register = (email: string, password: string, invite: string) =>
  session("/api/auth/register", { email, password, invite });

/** Restores the session from the cookie, if there is one. */
export async function resume(): Promise<User | null> {
  try {
    return await session("/api/auth/refresh", {});
  } catch {
    setSession(null, null);
    return null;
  }
}

export async function signOut(): Promise<void> {
  await fetch("/api/auth/logout", {
    method: "POST",
    headers: { ...WEB, "content-type": "application/json" },
    body: "{}",
  }).catch(() => undefined);
  setSession(null, null);
}

/** A request with the access token; refreshes once on 401. */
export async function call(path: string, init: RequestInit = {}, retried = false): Promise<Response> {
  const headers = new Headers(init.headers);
  if (access) headers.set("authorization", `Bearer ${access}`);
  const res = await fetch(path, { ...init, headers });
  if (res.status === 401 && !retried && (await resume())) return call(path, init, true);
  if (res.status === 401) setSession(null, null);
  if (!res.ok) throw await failure(res);
  return res;
}

export async function json<T = any>(path: string, init: RequestInit = {}): Promise<T> {
  return (await call(path, init)).json();
}

export function post<T = any>(path: string, body: unknown): Promise<T> {
  return json<T>(path, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(body),
  });
}

/** Server-sent events of a request, with the token in the header (EventSource cannot send one). */
export async function events(path: string, on: (event: string, data: any) => void, init: RequestInit = {}) {
  const headers = new Headers(init.headers);
  headers.set("accept", "text/event-stream");
  const res = await call(path, { ...init, headers });
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const chunk = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let name = "message";
      let data = "";
      for (const line of chunk.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).trim();
      }
      if (data) on(name, JSON.parse(data));
    }
  }
}
