// Cold-start baseline: the smallest worker that answers a request.
export default {
  fetch() {
    return new Response('ok');
  },
};
