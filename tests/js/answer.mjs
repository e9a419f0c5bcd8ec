// How the test workers answer (imported inside workerd): JSON, with the Set-Cookie turned into
// `cookie` (the name=value pair a browser sends back) and `clears` (it deleted the cookie).

export function cookieOf(setCookie) {
  if (typeof setCookie !== 'string') return { cookie: null, clears: false };
  const clears = /Max-Age=0/i.test(setCookie);
  return { cookie: clears ? null : setCookie.split(';')[0], clears };
}

export function answer(result) {
  const { setCookie, ...rest } = result;
  return Response.json({ ...rest, ...cookieOf(setCookie) });
}
