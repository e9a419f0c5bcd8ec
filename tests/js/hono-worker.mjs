// tests/hono.test.mjs's app inside workerd: Hono loaded unbundled (its ESM build imports only
// relative files) and edge-session/hono's workerd entry straight from pkg/, as Miniflare loads
// test workers (tests/js/workerd.mjs).
import { Hono } from '../../node_modules/hono/dist/index.js';
import * as edge from '../../pkg/hono-workerd.js';
import { buildApp } from './hono-app.mjs';

export default buildApp(Hono, edge);
