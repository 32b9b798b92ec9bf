#!/usr/bin/env node
'use strict';
/**
 * Telegram Bot API emulator for end-to-end tests of a python-telegram-bot 22 bot.
 *
 *   node server.js --port PORT [--host 127.0.0.1] [--store-timeout SECONDS]
 *                  [--bot-username NAME] [--bot-name NAME] [--lenient-markup] [--verbose]
 *
 * Built on the npm package `telegram-test-api` (its Express server, body parsing,
 * start/stop): our routes are put in front of the stock ones, which stay only as a
 * fallback. State lives here, in RAM: per bot token, the queue of updates for the
 * bot and, per chat, the messages of both sides with every edit and deletion.
 *
 * Bot side:  ANY /bot<TOKEN>/<method>   (GET or POST; JSON, form or multipart)
 *            GET /file/bot<TOKEN>/<file_path>
 *            after setWebhook, updates are POSTed to the bot's URL instead (retried until 2xx)
 * Test side: POST /emu/...               (JSON; see the route table at the end)
 *
 * Prints `READY <port>` on stdout once listening.
 */

const { EventEmitter } = require('events');
const crypto = require('crypto');
const TelegramServer = require('telegram-test-api');
const express = require('express');
const stockRoutes = require('telegram-test-api/lib/routes/index').routes;

// telegram-test-api builds its body parsers with Express's 100 kB default: raise it
// (test-side file contents travel as base64 in JSON) before the server is built.
const originalJson = express.json;
const originalUrlencoded = express.urlencoded;
express.json = (options = {}) => originalJson({ limit: '60mb', ...options });
express.urlencoded = (options = {}) => originalUrlencoded({ limit: '60mb', ...options });

// ----------------------------------------------------------------------
/**
 * Telegram text formatting (parse_mode).
 *
 * Turns `HTML`, `MarkdownV2` and legacy `Markdown` text into the plain text a
 * user sees plus Telegram message entities (offsets in UTF-16 code units, as
 * JavaScript strings count them), and rejects malformed markup with the same
 * kind of "can't parse entities" error the real Bot API returns, so that a bot
 * that forgets to escape user input fails in the tests as it would in
 * production.
 */

class MarkupError extends Error {}

function byteOffset(source, index) {
  return Buffer.byteLength(source.slice(0, index), 'utf8');
}

// ---------------------------------------------------------------- HTML ----

const HTML_SIMPLE_TAGS = {
  b: 'bold',
  strong: 'bold',
  i: 'italic',
  em: 'italic',
  u: 'underline',
  ins: 'underline',
  s: 'strikethrough',
  strike: 'strikethrough',
  del: 'strikethrough',
  'tg-spoiler': 'spoiler',
  code: 'code',
  pre: 'pre',
  blockquote: 'blockquote',
};
const HTML_TAGS = new Set([...Object.keys(HTML_SIMPLE_TAGS), 'a', 'span', 'tg-emoji']);

function decodeHtmlEntity(text, index) {
  // text[index] === '&'; returns [decoded, length] or null when not an entity.
  const match = /^&(lt|gt|amp|quot|#(\d{1,7})|#x([0-9a-fA-F]{1,6}));/.exec(text.slice(index, index + 12));
  if (!match) {
    return null;
  }
  let decoded;
  if (match[2] !== undefined) {
    decoded = String.fromCodePoint(Number(match[2]));
  } else if (match[3] !== undefined) {
    decoded = String.fromCodePoint(parseInt(match[3], 16));
  } else {
    decoded = { lt: '<', gt: '>', amp: '&', quot: '"' }[match[1]];
  }
  return [decoded, match[0].length];
}

function decodeAttribute(value) {
  let out = '';
  for (let i = 0; i < value.length; i += 1) {
    if (value[i] === '&') {
      const entity = decodeHtmlEntity(value, i);
      if (entity) {
        out += entity[0];
        i += entity[1] - 1;
        continue;
      }
    }
    out += value[i];
  }
  return out;
}

function parseAttributes(source, attrText, tagStart) {
  const attrs = {};
  const re = /\s*([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/y;
  let pos = 0;
  while (pos < attrText.length) {
    if (/^\s*$/.test(attrText.slice(pos))) {
      break;
    }
    re.lastIndex = pos;
    const m = re.exec(attrText);
    if (!m || m[0].length === 0) {
      throw new MarkupError(`Bad Request: can't parse entities: Expected equal sign in declaration of an attribute of the tag at byte offset ${byteOffset(source, tagStart)}`);
    }
    const value = m[2] ?? m[3] ?? m[4] ?? '';
    attrs[m[1].toLowerCase()] = decodeAttribute(value);
    pos = re.lastIndex;
  }
  return attrs;
}

function parseHtml(source) {
  let text = '';
  const entities = [];
  const stack = [];
  let i = 0;
  while (i < source.length) {
    const ch = source[i];
    if (ch === '&') {
      const entity = decodeHtmlEntity(source, i);
      if (entity) {
        text += entity[0];
        i += entity[1];
        continue;
      }
      text += ch;
      i += 1;
      continue;
    }
    if (ch !== '<') {
      text += ch;
      i += 1;
      continue;
    }
    const close = source.indexOf('>', i);
    if (close === -1) {
      throw new MarkupError(`Bad Request: can't parse entities: Unclosed start tag at byte offset ${byteOffset(source, i)}`);
    }
    const inner = source.slice(i + 1, close);
    if (inner.startsWith('/')) {
      const name = inner.slice(1).trim().toLowerCase();
      const open = stack.pop();
      if (!open || (name !== '' && name !== open.name)) {
        throw new MarkupError(`Bad Request: can't parse entities: Unmatched end tag at byte offset ${byteOffset(source, i)}, expected "</${open ? open.name : ''}>", found "</${name}>"`);
      }
      const length = text.length - open.offset;
      if (open.entity && length > 0) {
        const entity = { type: open.entity, offset: open.offset, length, ...open.extra };
        if (open.name === 'code' && stack.length && stack[stack.length - 1].name === 'pre') {
          // <pre><code class="language-x"> is one pre entity with a language.
          if (open.extra.language) {
            stack[stack.length - 1].extra.language = open.extra.language;
          }
        } else {
          entities.push(entity);
        }
      }
      i = close + 1;
      continue;
    }
    const nameMatch = /^([a-zA-Z][-a-zA-Z0-9]*)/.exec(inner);
    if (!nameMatch) {
      throw new MarkupError(`Bad Request: can't parse entities: Unsupported start tag "${inner.split(/\s/)[0]}" at byte offset ${byteOffset(source, i)}`);
    }
    const name = nameMatch[1].toLowerCase();
    if (!HTML_TAGS.has(name)) {
      throw new MarkupError(`Bad Request: can't parse entities: Unsupported start tag "${name}" at byte offset ${byteOffset(source, i)}`);
    }
    const attrs = parseAttributes(source, inner.slice(nameMatch[0].length).replace(/\/$/, ''), i);
    const frame = { name, offset: text.length, entity: HTML_SIMPLE_TAGS[name] || null, extra: {} };
    if (name === 'a') {
      if (attrs.href) {
        frame.entity = 'text_link';
        frame.extra.url = attrs.href;
      }
    } else if (name === 'span') {
      if (attrs.class !== 'tg-spoiler') {
        throw new MarkupError(`Bad Request: can't parse entities: Tag "span" must have class "tg-spoiler" at byte offset ${byteOffset(source, i)}`);
      }
      frame.entity = 'spoiler';
    } else if (name === 'tg-emoji') {
      frame.entity = 'custom_emoji';
      frame.extra.custom_emoji_id = attrs['emoji-id'] || '';
    } else if (name === 'code' && attrs.class && attrs.class.startsWith('language-')) {
      frame.extra.language = attrs.class.slice('language-'.length);
    } else if (name === 'blockquote' && 'expandable' in attrs) {
      frame.entity = 'expandable_blockquote';
    }
    stack.push(frame);
    i = close + 1;
  }
  if (stack.length) {
    const open = stack[stack.length - 1];
    throw new MarkupError(`Bad Request: can't parse entities: Can't find end tag corresponding to start tag "${open.name}"`);
  }
  entities.sort((a, b) => a.offset - b.offset || b.length - a.length);
  return { text, entities };
}

// ---------------------------------------------------------- MarkdownV2 ----

const MDV2_RESERVED = new Set('_*[]()~`>#+-=|{}.!');
const MDV2_NAMES = {
  bold: 'Bold',
  italic: 'Italic',
  underline: 'Underline',
  strikethrough: 'Strikethrough',
  spoiler: 'Spoiler',
  text_link: 'TextUrl',
  custom_emoji: 'CustomEmoji',
};

function parseMarkdownV2(source) {
  let text = '';
  const entities = [];
  const stack = [];
  let quote = null; // open blockquote {offset}
  let i = 0;
  const top = () => (stack.length ? stack[stack.length - 1] : null);
  const reserved = (c) => new MarkupError(`Bad Request: can't parse entities: Character '${c}' is reserved and must be escaped with the preceding '\\'`);
  const toggle = (type, width) => {
    const t = top();
    if (t && t.type === type) {
      stack.pop();
      if (text.length > t.offset) {
        entities.push({ type, offset: t.offset, length: text.length - t.offset });
      }
    } else if (stack.some((f) => f.type === type)) {
      throw new MarkupError(`Bad Request: can't parse entities: Can't find end of ${MDV2_NAMES[top().type] || top().type} entity at byte offset ${byteOffset(source, top().source)}`);
    } else {
      stack.push({ type, offset: text.length, source: i });
    }
    i += width;
  };
  const closeQuote = () => {
    if (quote && text.length > quote.offset) {
      let end = text.length;
      if (text.endsWith('\n')) {
        end -= 1;
      }
      entities.push({ type: 'blockquote', offset: quote.offset, length: end - quote.offset });
    }
    quote = null;
  };
  while (i < source.length) {
    const ch = source[i];
    const atLineStart = i === 0 || source[i - 1] === '\n';
    if (atLineStart) {
      if (ch === '>') {
        if (!quote) {
          quote = { offset: text.length };
        }
        i += 1;
        continue;
      }
      if (quote) {
        closeQuote();
      }
    }
    if (ch === '\\') {
      const next = source[i + 1];
      if (next !== undefined && next.charCodeAt(0) >= 1 && next.charCodeAt(0) <= 126) {
        text += next;
        i += 2;
        continue;
      }
      throw reserved('\\');
    }
    if (ch === '`') {
      const isPre = source.startsWith('```', i);
      const fence = isPre ? '```' : '`';
      let j = i + fence.length;
      let language = '';
      if (isPre) {
        const nl = source.indexOf('\n', j);
        const firstLine = nl === -1 ? '' : source.slice(j, nl);
        if (nl !== -1 && /^[^\s`\\]*$/.test(firstLine)) {
          language = firstLine;
          j = nl + 1;
        }
      }
      const start = text.length;
      let closed = false;
      while (j < source.length) {
        if (source[j] === '\\' && j + 1 < source.length) {
          text += source[j + 1];
          j += 2;
          continue;
        }
        if (source.startsWith(fence, j)) {
          closed = true;
          break;
        }
        text += source[j];
        j += 1;
      }
      if (!closed) {
        throw new MarkupError(`Bad Request: can't parse entities: Can't find end of ${isPre ? 'Pre' : 'Code'} entity at byte offset ${byteOffset(source, i)}`);
      }
      if (text.length > start) {
        const entity = { type: isPre ? 'pre' : 'code', offset: start, length: text.length - start };
        if (language) {
          entity.language = language;
        }
        entities.push(entity);
      }
      i = j + fence.length;
      continue;
    }
    if (ch === '*') {
      toggle('bold', 1);
      continue;
    }
    if (ch === '_') {
      const t = top();
      if (source[i + 1] === '_' && !(t && t.type === 'italic')) {
        toggle('underline', 2);
      } else {
        toggle('italic', 1);
      }
      continue;
    }
    if (ch === '~') {
      toggle('strikethrough', 1);
      continue;
    }
    if (ch === '|') {
      if (source[i + 1] !== '|') {
        throw reserved('|');
      }
      toggle('spoiler', 2);
      continue;
    }
    if (ch === '[' || (ch === '!' && source[i + 1] === '[')) {
      const width = ch === '!' ? 2 : 1;
      stack.push({ type: ch === '!' ? 'custom_emoji' : 'text_link', offset: text.length, source: i });
      i += width;
      continue;
    }
    if (ch === ']') {
      const t = top();
      if (!t || (t.type !== 'text_link' && t.type !== 'custom_emoji')) {
        throw reserved(']');
      }
      if (source[i + 1] !== '(') {
        throw new MarkupError(`Bad Request: can't parse entities: Can't find end of ${MDV2_NAMES[t.type]} entity at byte offset ${byteOffset(source, t.source)}`);
      }
      let j = i + 2;
      let url = '';
      while (j < source.length && source[j] !== ')') {
        if (source[j] === '\\' && j + 1 < source.length) {
          url += source[j + 1];
          j += 2;
          continue;
        }
        url += source[j];
        j += 1;
      }
      if (j >= source.length) {
        throw new MarkupError(`Bad Request: can't parse entities: Can't find end of a url at byte offset ${byteOffset(source, i + 2)}`);
      }
      stack.pop();
      if (text.length > t.offset) {
        const entity = { type: t.type, offset: t.offset, length: text.length - t.offset };
        if (t.type === 'custom_emoji') {
          entity.custom_emoji_id = url.replace(/^tg:\/\/emoji\?id=/, '');
        } else {
          entity.url = url;
        }
        entities.push(entity);
      }
      i = j + 1;
      continue;
    }
    if (MDV2_RESERVED.has(ch)) {
      throw reserved(ch);
    }
    text += ch;
    i += 1;
  }
  if (stack.length) {
    const t = top();
    throw new MarkupError(`Bad Request: can't parse entities: Can't find end of ${MDV2_NAMES[t.type] || t.type} entity at byte offset ${byteOffset(source, t.source)}`);
  }
  closeQuote();
  entities.sort((a, b) => a.offset - b.offset || b.length - a.length);
  return { text, entities };
}

// ------------------------------------------------------ legacy Markdown ----

function parseMarkdownLegacy(source) {
  let text = '';
  const entities = [];
  let i = 0;
  const unclosed = (at) => new MarkupError(`Bad Request: can't parse entities: Can't find end of the entity starting at byte offset ${byteOffset(source, at)}`);
  while (i < source.length) {
    const ch = source[i];
    if (ch === '\\' && '_*`['.includes(source[i + 1] || '')) {
      text += source[i + 1];
      i += 2;
      continue;
    }
    if (ch === '*' || ch === '_' || ch === '`') {
      const fence = ch === '`' && source.startsWith('```', i) ? '```' : ch;
      const end = source.indexOf(fence, i + fence.length);
      if (end === -1) {
        throw unclosed(i);
      }
      let inner = source.slice(i + fence.length, end);
      let language;
      if (fence === '```') {
        const nl = inner.indexOf('\n');
        if (nl > 0 && /^\S+$/.test(inner.slice(0, nl))) {
          language = inner.slice(0, nl);
          inner = inner.slice(nl + 1);
        }
      }
      const type = { '*': 'bold', _: 'italic', '`': 'code', '```': 'pre' }[fence];
      if (inner.length) {
        const entity = { type, offset: text.length, length: inner.length };
        if (language) {
          entity.language = language;
        }
        entities.push(entity);
      }
      text += inner;
      i = end + fence.length;
      continue;
    }
    if (ch === '[') {
      const close = source.indexOf('](', i);
      const end = close === -1 ? -1 : source.indexOf(')', close + 2);
      if (close === -1 || end === -1) {
        throw unclosed(i);
      }
      const label = source.slice(i + 1, close);
      if (label.length) {
        entities.push({ type: 'text_link', offset: text.length, length: label.length, url: source.slice(close + 2, end) });
      }
      text += label;
      i = end + 1;
      continue;
    }
    text += ch;
    i += 1;
  }
  return { text, entities };
}

/**
 * Parse `source` according to a Bot API parse_mode.
 * @returns {{text: string, entities: object[]}}
 * @throws {MarkupError} with a Telegram-style description on malformed markup.
 */
function parseText(source, parseMode) {
  const mode = String(parseMode || '').toLowerCase();
  if (mode === 'html') {
    return parseHtml(source);
  }
  if (mode === 'markdownv2') {
    return parseMarkdownV2(source);
  }
  if (mode === 'markdown') {
    return parseMarkdownLegacy(source);
  }
  if (mode === '') {
    return { text: source, entities: [] };
  }
  throw new MarkupError(`Bad Request: unsupported parse_mode "${parseMode}"`);
}

// ------------------------------------------------------------ settings ----

function parseArgs(argv) {
  const options = {
    port: 9000,
    host: '127.0.0.1',
    storeTimeout: 7 * 24 * 3600, // seconds; setInterval cannot go beyond ~24.8 days
    botUsername: 'EmulatedTestBot',
    botName: 'Emulated Test Bot',
    lenientMarkup: false,
    verbose: false,
  };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    const value = () => {
      i += 1;
      if (i >= argv.length) {
        throw new Error(`missing value after ${arg}`);
      }
      return argv[i];
    };
    if (arg === '--port') {
      options.port = Number(value());
    } else if (arg === '--host') {
      options.host = value();
    } else if (arg === '--store-timeout') {
      options.storeTimeout = Math.min(Number(value()), 2000000);
    } else if (arg === '--bot-username') {
      options.botUsername = value();
    } else if (arg === '--bot-name') {
      options.botName = value();
    } else if (arg === '--lenient-markup') {
      options.lenientMarkup = true;
    } else if (arg === '--verbose') {
      options.verbose = true;
    } else if (arg === '--help' || arg === '-h') {
      process.stdout.write('usage: node server.js --port PORT [--host H] [--store-timeout S] [--bot-username U] [--bot-name N] [--lenient-markup] [--verbose]\n');
      process.exit(0);
    } else {
      throw new Error(`unknown argument ${arg}`);
    }
  }
  if (!Number.isInteger(options.port) || options.port <= 0 || options.port > 65535) {
    throw new Error('--port must be an integer in 1..65535');
  }
  return options;
}

// -------------------------------------------------------------- errors ----

/** An error answered to the caller as Telegram does: {ok:false, error_code, description}. */
class ApiError extends Error {
  constructor(code, description, parameters) {
    super(description);
    this.code = code;
    this.parameters = parameters;
  }
}

const badRequest = (description) => new ApiError(400, description.startsWith('Bad Request') ? description : `Bad Request: ${description}`);

const gone = (res) => res.headersSent || res.writableEnded || res.destroyed || (res.socket && res.socket.destroyed);

function sendApiError(res, error) {
  if (gone(res)) {
    return;
  }
  const code = error instanceof ApiError ? error.code : 500;
  const body = { ok: false, error_code: code, description: error instanceof ApiError ? error.message : `Internal Server Error: ${error && error.message}` };
  if (error instanceof ApiError && error.parameters) {
    body.parameters = error.parameters;
  }
  res.status(code).json(body);
}

function sendOk(res, result) {
  if (gone(res)) {
    return;
  }
  res.status(200).json({ ok: true, result });
}

// ---------------------------------------------------------- parameters ----

const JSON_FIELDS = new Set([
  'reply_markup', 'entities', 'caption_entities', 'allowed_updates', 'message_ids', 'commands',
  'scope', 'reply_parameters', 'link_preview_options', 'menu_button', 'media',
]);
const BOOL_FIELDS = new Set([
  'protect_content', 'disable_notification', 'drop_pending_updates', 'show_alert',
  'allow_sending_without_reply', 'disable_web_page_preview', 'has_spoiler', 'force',
  'allow_paid_broadcast', 'show_caption_above_media', 'disable_content_type_detection',
]);

/** Bot API parameters arrive as JSON, form fields (values JSON-encoded by PTB) or query. */
function normaliseParams(raw) {
  const params = {};
  for (const [key, value] of Object.entries(raw || {})) {
    if (value === undefined || value === null) {
      continue;
    }
    if (typeof value === 'string' && JSON_FIELDS.has(key)) {
      try {
        params[key] = JSON.parse(value);
      } catch (error) {
        throw badRequest(`can't parse ${key} JSON object`);
      }
    } else if (typeof value === 'string' && BOOL_FIELDS.has(key)) {
      params[key] = value === 'true' || value === '1' || value === 'True';
    } else {
      params[key] = value;
    }
  }
  return params;
}

function intParam(params, name, fallback) {
  const value = params[name];
  if (value === undefined || value === '') {
    return fallback;
  }
  const number = Number(value);
  if (!Number.isFinite(number)) {
    throw badRequest(`field "${name}" must be a number`);
  }
  return Math.trunc(number);
}

function numParam(params, name, fallback) {
  const value = params[name];
  if (value === undefined || value === '') {
    return fallback;
  }
  const number = Number(value);
  if (!Number.isFinite(number)) {
    throw badRequest(`field "${name}" must be a number`);
  }
  return number;
}

function requireChatId(params) {
  const value = params.chat_id;
  if (value === undefined || value === '') {
    throw badRequest('chat_id is empty');
  }
  return chatKey(value);
}

function chatKey(value) {
  const text = String(value).trim();
  if (/^-?\d+$/.test(text)) {
    return String(Number(text));
  }
  return text; // @channelusername
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

// --------------------------------------------------------- multipart ----

function readBody(req, limit) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > limit) {
        reject(new ApiError(413, 'Request Entity Too Large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function headerParam(header, name) {
  const star = new RegExp(`${name}\\*=(?:UTF-8|utf-8)''([^;]+)`).exec(header);
  if (star) {
    return decodeURIComponent(star[1]);
  }
  const quoted = new RegExp(`(?:^|;)\\s*${name}="((?:[^"\\\\]|\\\\.)*)"`).exec(header);
  if (quoted) {
    return quoted[1].replace(/\\(.)/g, '$1');
  }
  const bare = new RegExp(`(?:^|;)\\s*${name}=([^;\\s]+)`).exec(header);
  return bare ? bare[1] : undefined;
}

/** Minimal multipart/form-data parser: {fields: {name: string}, files: {name: {filename, contentType, data}}}. */
function parseMultipart(body, contentType) {
  const boundary = headerParam(contentType, 'boundary');
  if (!boundary) {
    throw badRequest('multipart boundary is missing');
  }
  const delimiter = Buffer.from(`--${boundary}`);
  const fields = {};
  const files = {};
  let position = body.indexOf(delimiter);
  while (position !== -1) {
    let start = position + delimiter.length;
    if (body.slice(start, start + 2).toString() === '--') {
      break;
    }
    if (body.slice(start, start + 2).toString() === '\r\n') {
      start += 2;
    }
    const next = body.indexOf(delimiter, start);
    if (next === -1) {
      break;
    }
    let end = next;
    if (body.slice(end - 2, end).toString() === '\r\n') {
      end -= 2;
    }
    const part = body.slice(start, end);
    const headerEnd = part.indexOf('\r\n\r\n');
    if (headerEnd !== -1) {
      const headers = {};
      for (const line of part.slice(0, headerEnd).toString('utf8').split('\r\n')) {
        const colon = line.indexOf(':');
        if (colon > 0) {
          headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
        }
      }
      const disposition = headers['content-disposition'] || '';
      const name = headerParam(disposition, 'name');
      const filename = headerParam(disposition, 'filename');
      const data = part.slice(headerEnd + 4);
      if (name !== undefined) {
        if (filename !== undefined) {
          files[name] = { filename, contentType: headers['content-type'] || 'application/octet-stream', data };
        } else {
          fields[name] = data.toString('utf8');
        }
      }
    }
    position = next;
  }
  return { fields, files };
}

// --------------------------------------------------------------- state ----

const MEDIA_KINDS = ['photo', 'document', 'audio', 'video', 'voice', 'animation', 'sticker', 'video_note'];
const MEDIA_DEFAULTS = {
  photo: { ext: 'jpg', mime: 'image/jpeg', dir: 'photos' },
  document: { ext: 'bin', mime: 'application/octet-stream', dir: 'documents' },
  audio: { ext: 'mp3', mime: 'audio/mpeg', dir: 'music' },
  video: { ext: 'mp4', mime: 'video/mp4', dir: 'videos' },
  voice: { ext: 'oga', mime: 'audio/ogg', dir: 'voice' },
  animation: { ext: 'mp4', mime: 'video/mp4', dir: 'animations' },
  sticker: { ext: 'webp', mime: 'image/webp', dir: 'stickers' },
  video_note: { ext: 'mp4', mime: 'video/mp4', dir: 'video_notes' },
};
// A valid 1x1 PNG, served for fake user photos that came without content.
const PLACEHOLDER_PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');
// Webhook delivery: how long one POST may take, and the retry backoff's first and longest step.
const WEBHOOK_TIMEOUT_MS = 10000;
const WEBHOOK_FIRST_BACKOFF_MS = 100;
const WEBHOOK_MAX_BACKOFF_MS = 2000;

class Emulator extends EventEmitter {
  constructor(options) {
    super();
    this.setMaxListeners(0);
    this.options = options;
    this.bots = new Map();
    this.files = new Map();
    this.nextUpdateId = 1;
    this.nextOutputSeq = 1;
    this.nextFileNumber = 1;
    this.nextCallbackId = 1;
  }

  /** Per-token state, created on first use. */
  bot(token) {
    let bot = this.bots.get(token);
    if (!bot) {
      const prefix = /^(\d+):/.exec(token);
      bot = {
        token,
        user: {
          id: prefix ? Number(prefix[1]) : 666,
          is_bot: true,
          first_name: this.options.botName,
          username: this.options.botUsername,
          can_join_groups: true,
          can_read_all_group_messages: false,
          supports_inline_queries: false,
          can_connect_to_business: false,
          has_main_web_app: false,
        },
        updates: [], // unconfirmed updates: {update_id, type, payload}
        allowedUpdates: null,
        chats: new Map(),
        callbacks: new Map(), // callback_query_id -> {chatId, messageId, data, answer}
        commands: new Map(),
        menuButtons: new Map(),
        chatActions: [],
        poller: null, // the pending long poll, if any
        getUpdatesCalls: 0,
        handedOut: 0, // updates written out in getUpdates answers (confirmed or not)
        webhook: null, // set by setWebhook: {url, secretToken, allowedUpdates, maxConnections, ...}
        setWebhookCalls: 0,
        webhookDeliveries: [], // every POST attempt: {update_id, attempt, status, ok, error, ...}
      };
      this.bots.set(token, bot);
    }
    return bot;
  }

  /** Per-chat state inside a bot, created on first use. */
  chat(bot, chatId, chatInfo) {
    const key = chatKey(chatId);
    let chat = bot.chats.get(key);
    if (!chat) {
      const numeric = /^-?\d+$/.test(key) ? Number(key) : null;
      let info;
      if (numeric !== null && numeric > 0) {
        info = { id: numeric, type: 'private', first_name: `User ${numeric}` };
      } else if (numeric !== null) {
        info = { id: numeric, type: 'group', title: `Group ${numeric}` };
      } else {
        info = { id: -1000000000000 - (Math.abs(hashCode(key)) % 1000000000), type: 'channel', title: key, username: key.replace(/^@/, '') };
      }
      chat = {
        key,
        info,
        nextMessageId: 1,
        botMessages: new Map(),
        userMessages: new Map(),
        outputs: [], // bot-side events: {seq, event, side, messageId, snapshot}
        instance: String(Math.abs(hashCode(`${bot.token}/${key}`)) * 1000 + 7),
      };
      bot.chats.set(key, chat);
    }
    if (chatInfo) {
      chat.info = { ...chat.info, ...chatInfo, id: chat.info.id };
    }
    return chat;
  }

  // ------------------------------------------------------------ updates --

  pushUpdate(bot, type, payload) {
    const update = { update_id: this.nextUpdateId, type, payload };
    this.nextUpdateId += 1;
    bot.updates.push(update);
    this.emit(`update:${bot.token}`);
    this.deliverWebhook(bot);
    return update.update_id;
  }

  /** `updates`, the answer to a getUpdates: once it is written out, counted as handed out. */
  handOut(bot, updates, res) {
    if (updates.length) {
      res.once('finish', () => {
        bot.handedOut += updates.length;
        this.emit(`fetched:${bot.token}`);
      });
    }
    return updates;
  }

  /** Updates for getUpdates: confirms those below offset, honours limit and allowed_updates. */
  takeUpdates(bot, offset, limit) {
    if (offset > 0) {
      bot.updates = bot.updates.filter((u) => u.update_id >= offset);
    } else if (offset < 0) {
      bot.updates = bot.updates.slice(offset);
    }
    if (bot.allowedUpdates) {
      bot.updates = bot.updates.filter((u) => bot.allowedUpdates.has(u.type));
    }
    return bot.updates.slice(0, limit).map((u) => ({ update_id: u.update_id, [u.type]: u.payload }));
  }

  // ------------------------------------------------------------ webhook --

  /**
   * While a webhook is set, POST the oldest pending update to it as JSON, with the
   * X-Telegram-Bot-Api-Secret-Token header when a secret was set. One request at a time
   * per bot, so a bot gets its updates in order; an update leaves the queue only on a
   * 2xx answer. Anything else (an error status, a refused connection, a timeout) is
   * retried after a backoff doubling from 100 ms to 2 s — Telegram also retries, only
   * more slowly. Every attempt is recorded for the tests (/emu/bot/webhook).
   */
  deliverWebhook(bot) {
    const hook = bot.webhook;
    if (!hook || hook.inFlight || hook.retryTimer) {
      return;
    }
    if (hook.allowedUpdates) {
      bot.updates = bot.updates.filter((u) => hook.allowedUpdates.has(u.type));
    }
    const update = bot.updates[0];
    if (!update) {
      return;
    }
    hook.inFlight = true;
    hook.attempt += 1;
    const attempt = hook.attempt;
    const headers = { 'content-type': 'application/json' };
    if (hook.secretToken) {
      headers['x-telegram-bot-api-secret-token'] = hook.secretToken;
    }
    const started = Date.now();
    fetch(hook.url, {
      method: 'POST',
      headers,
      body: JSON.stringify({ update_id: update.update_id, [update.type]: update.payload }),
      signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
    })
      .then(
        async (response) => {
          await response.arrayBuffer().catch(() => null);
          return { status: response.status, error: null };
        },
        (error) => ({ status: null, error: String((error.cause && error.cause.code) || error.name || error) }),
      )
      .then(({ status, error }) => {
        hook.inFlight = false;
        const ok = status !== null && status >= 200 && status < 300;
        bot.webhookDeliveries.push({
          update_id: update.update_id,
          type: update.type,
          attempt,
          url: hook.url,
          secret_token_sent: Boolean(hook.secretToken),
          status,
          ok,
          error,
          duration_ms: Date.now() - started,
        });
        if (bot.webhook !== hook) {
          // deleted or replaced while the request was out: the new webhook starts afresh
          this.emit(`webhook:${bot.token}`);
          return;
        }
        if (ok) {
          hook.attempt = 0;
          bot.updates = bot.updates.filter((u) => u.update_id !== update.update_id);
          this.emit(`confirmed:${bot.token}`);
        } else {
          hook.lastError = { date: nowSeconds(), message: error ? `Connection failed: ${error}` : `Wrong response from the webhook: ${status}` };
          const delay = Math.min(WEBHOOK_MAX_BACKOFF_MS, WEBHOOK_FIRST_BACKOFF_MS * 2 ** (attempt - 1));
          hook.retryTimer = setTimeout(() => {
            hook.retryTimer = null;
            this.deliverWebhook(bot);
          }, delay);
          hook.retryTimer.unref();
        }
        this.emit(`webhook:${bot.token}`);
        this.deliverWebhook(bot);
      });
  }

  /** Forget the webhook (deleteWebhook, a new setWebhook, reset): no retry stays armed. */
  dropWebhook(bot) {
    if (bot.webhook && bot.webhook.retryTimer) {
      clearTimeout(bot.webhook.retryTimer);
    }
    bot.webhook = null;
  }

  // ------------------------------------------------------------- output --

  recordOutput(bot, chat, event, side, messageId) {
    const seq = this.nextOutputSeq;
    this.nextOutputSeq += 1;
    const record = side === 'bot' ? chat.botMessages.get(messageId) : chat.userMessages.get(messageId);
    chat.outputs.push({ seq, event, side, messageId, snapshot: record ? snapshotOf(record) : null });
    this.emit(`output:${bot.token}:${chat.key}`);
    this.emit('output');
    return seq;
  }

  // -------------------------------------------------------------- files --

  registerFile(kind, { fileId, data, fileName, mimeType, url } = {}) {
    const number = this.nextFileNumber;
    this.nextFileNumber += 1;
    const defaults = MEDIA_DEFAULTS[kind] || MEDIA_DEFAULTS.document;
    const id = fileId || `EMU${kind.toUpperCase()}${number}${crypto.randomBytes(6).toString('hex')}`;
    const extension = fileName && /\.[A-Za-z0-9]{1,8}$/.test(fileName) ? fileName.split('.').pop() : defaults.ext;
    const file = {
      file_id: id,
      file_unique_id: `U${crypto.createHash('sha1').update(id).digest('hex').slice(0, 15)}`,
      file_path: `${defaults.dir}/file_${number}.${extension}`,
      data: data || null,
      url: url || null,
      file_name: fileName,
      mime_type: mimeType || defaults.mime,
      kind,
    };
    this.files.set(id, file);
    return file;
  }

  fileFor(kind, fileId) {
    return this.files.get(fileId) || this.registerFile(kind, { fileId, data: placeholderFor(kind) });
  }
}

function placeholderFor(kind) {
  if (kind === 'photo') {
    return PLACEHOLDER_PNG;
  }
  return Buffer.from(`emulated ${kind} content\n`, 'utf8');
}

function hashCode(text) {
  let hash = 0;
  for (let i = 0; i < text.length; i += 1) {
    hash = (Math.imul(hash, 31) + text.charCodeAt(i)) | 0;
  }
  return hash;
}

/** A plain copy of a message record for the test side (no Buffers, no cycles). */
function snapshotOf(record) {
  return JSON.parse(JSON.stringify({ ...record, versions: undefined }));
}

// --------------------------------------------------- Telegram shapes ----

function mediaObject(kind, file, extra = {}) {
  const size = file.data ? file.data.length : 0;
  const base = { file_id: file.file_id, file_unique_id: file.file_unique_id, file_size: size };
  switch (kind) {
    case 'photo':
      return [
        { ...base, width: extra.width || 90, height: extra.height || 90 },
        { ...base, width: extra.width || 800, height: extra.height || 800 },
      ];
    case 'sticker':
      return { ...base, type: 'regular', width: 512, height: 512, is_animated: false, is_video: false, emoji: extra.emoji || '👍', set_name: extra.set_name };
    case 'voice':
      return { ...base, duration: extra.duration || 1, mime_type: file.mime_type };
    case 'audio':
      return { ...base, duration: extra.duration || 1, mime_type: file.mime_type, file_name: file.file_name };
    case 'video':
    case 'animation':
      return { ...base, width: 640, height: 360, duration: extra.duration || 1, mime_type: file.mime_type, file_name: file.file_name };
    case 'video_note':
      return { ...base, length: 240, duration: extra.duration || 1 };
    default:
      return { ...base, file_name: file.file_name || `file.${(MEDIA_DEFAULTS[kind] || MEDIA_DEFAULTS.document).ext}`, mime_type: file.mime_type };
  }
}

/** The Bot API Message object for a stored record (bot or user side). */
function telegramMessage(bot, chat, record, { withReply = true } = {}) {
  const message = {
    message_id: record.message_id,
    from: record.side === 'bot' ? publicBotUser(bot) : record.from,
    chat: { ...chat.info },
    date: record.date,
  };
  if (record.edit_date) {
    message.edit_date = record.edit_date;
  }
  if (record.text !== undefined && record.text !== null) {
    message.text = record.text;
    if (record.entities && record.entities.length) {
      message.entities = record.entities;
    }
  }
  if (record.media) {
    message[record.media.kind] = record.media.object;
    if (record.caption) {
      message.caption = record.caption;
      if (record.caption_entities && record.caption_entities.length) {
        message.caption_entities = record.caption_entities;
      }
    }
  }
  for (const field of ['location', 'contact', 'venue']) {
    if (record[field]) {
      message[field] = record[field];
    }
  }
  if (record.side === 'bot') {
    if (record.reply_markup && record.reply_markup.inline_keyboard) {
      message.reply_markup = { inline_keyboard: record.reply_markup.inline_keyboard };
    }
    if (record.protect_content) {
      message.has_protected_content = true;
    }
  }
  if (record.extra) {
    Object.assign(message, record.extra, { message_id: message.message_id, chat: message.chat, from: message.from });
  }
  if (withReply && record.reply_to_message_id) {
    const replied = chat.userMessages.get(record.reply_to_message_id) || chat.botMessages.get(record.reply_to_message_id);
    if (replied) {
      message.reply_to_message = telegramMessage(bot, chat, replied, { withReply: false });
    }
  }
  return message;
}

function publicBotUser(bot) {
  const { id, is_bot: isBot, first_name: firstName, username } = bot.user;
  return { id, is_bot: isBot, first_name: firstName, username };
}

// ----------------------------------------------------- text and markup ----

function formatted(emulator, params, field, entitiesField, maxLength, tooLong) {
  const raw = params[field];
  if (raw === undefined || raw === null) {
    return { text: undefined, entities: [] };
  }
  const source = String(raw);
  let parsed;
  if (params.parse_mode) {
    try {
      parsed = parseText(source, params.parse_mode);
    } catch (error) {
      if (!(error instanceof MarkupError)) {
        throw error;
      }
      if (!emulator.options.lenientMarkup) {
        throw badRequest(error.message);
      }
      parsed = { text: source, entities: [] };
    }
  } else {
    parsed = { text: source, entities: Array.isArray(params[entitiesField]) ? params[entitiesField] : [] };
  }
  if (parsed.text.length > maxLength) {
    throw badRequest(tooLong);
  }
  return parsed;
}

function validateReplyMarkup(markup) {
  if (markup === undefined || markup === null) {
    return null;
  }
  if (typeof markup !== 'object') {
    throw badRequest("can't parse reply keyboard markup JSON object");
  }
  if (markup.inline_keyboard !== undefined) {
    if (!Array.isArray(markup.inline_keyboard) || !markup.inline_keyboard.every(Array.isArray)) {
      throw badRequest("field \"inline_keyboard\" of the InlineKeyboardMarkup must be an Array of Arrays");
    }
    for (const row of markup.inline_keyboard) {
      for (const button of row) {
        if (!button || typeof button.text !== 'string') {
          throw badRequest("can't parse inline keyboard button: Text must be a String");
        }
        if (button.callback_data !== undefined) {
          const size = Buffer.byteLength(String(button.callback_data), 'utf8');
          if (size < 1 || size > 64) {
            throw badRequest('BUTTON_DATA_INVALID');
          }
        } else if (!['url', 'login_url', 'switch_inline_query', 'switch_inline_query_current_chat', 'switch_inline_query_chosen_chat', 'callback_game', 'pay', 'web_app', 'copy_text'].some((k) => button[k] !== undefined)) {
          throw badRequest('text buttons are unallowed in the inline keyboard');
        }
      }
    }
  } else if (markup.keyboard !== undefined) {
    if (!Array.isArray(markup.keyboard) || !markup.keyboard.every(Array.isArray)) {
      throw badRequest('field "keyboard" of the ReplyKeyboardMarkup must be an Array of Arrays');
    }
  } else if (!markup.remove_keyboard && !markup.force_reply) {
    throw badRequest('object expected as reply markup');
  }
  return markup;
}

function replyToId(params) {
  if (params.reply_parameters && params.reply_parameters.message_id !== undefined) {
    return Number(params.reply_parameters.message_id);
  }
  if (params.reply_to_message_id !== undefined) {
    return Number(params.reply_to_message_id);
  }
  return undefined;
}

// ------------------------------------------------------ bot methods ----

/** Create and store a bot message in the chat; returns the Telegram Message. */
function storeBotMessage(emulator, bot, chat, fields, params) {
  const messageId = chat.nextMessageId;
  chat.nextMessageId += 1;
  const replyMarkup = validateReplyMarkup(params.reply_markup);
  const record = {
    side: 'bot',
    chat_id: chat.info.id,
    message_id: messageId,
    date: nowSeconds(),
    kind: 'text',
    text: undefined,
    raw_text: undefined,
    parse_mode: params.parse_mode,
    entities: [],
    reply_markup: replyMarkup,
    protect_content: Boolean(params.protect_content),
    disable_notification: Boolean(params.disable_notification),
    reply_to_message_id: replyToId(params),
    deleted: false,
    deleted_at: null,
    edited: false,
    edit_date: null,
    versions: [],
    ...fields,
  };
  chat.botMessages.set(messageId, record);
  emulator.recordOutput(bot, chat, 'sent', 'bot', messageId);
  return telegramMessage(bot, chat, record);
}

function findBotMessage(chat, params, missing) {
  const messageId = intParam(params, 'message_id', undefined);
  if (messageId === undefined) {
    throw badRequest('message identifier is not specified');
  }
  const record = chat.botMessages.get(messageId);
  if (!record || record.deleted) {
    throw badRequest(missing);
  }
  return record;
}

function sameMarkup(a, b) {
  const inline = (m) => (m && m.inline_keyboard ? JSON.stringify(m.inline_keyboard) : null);
  return inline(a) === inline(b);
}

function applyEdit(emulator, bot, chat, record, changes) {
  const before = snapshotOf(record);
  // Telegram compares what the user would see: the text (or caption) with its entities and the inline keyboard.
  const sameContent = ['text', 'entities', 'caption', 'caption_entities']
    .every((key) => !(key in changes) || JSON.stringify(record[key] || null) === JSON.stringify(changes[key] || null));
  if (sameContent && sameMarkup(record.reply_markup, changes.reply_markup)) {
    throw badRequest('message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message');
  }
  record.versions.push(before);
  Object.assign(record, changes);
  record.edited = true;
  record.edit_date = nowSeconds();
  emulator.recordOutput(bot, chat, 'edited', 'bot', record.message_id);
  return telegramMessage(bot, chat, record);
}

function inlineMarkupOrNull(params) {
  const markup = validateReplyMarkup(params.reply_markup);
  if (markup && !markup.inline_keyboard) {
    throw badRequest('inline keyboard expected');
  }
  return markup && markup.inline_keyboard.length ? markup : null;
}

function rejectInlineMessage(params) {
  if (params.inline_message_id !== undefined) {
    throw badRequest('inline messages are not supported by the emulator');
  }
}

async function sendMedia(emulator, bot, kind, params, files) {
  const chat = emulator.chat(bot, requireChatId(params));
  const value = params[kind];
  let file;
  if (typeof value === 'string' && value.startsWith('attach://') && files[value.slice('attach://'.length)]) {
    const upload = files[value.slice('attach://'.length)];
    file = emulator.registerFile(kind, { data: upload.data, fileName: upload.filename, mimeType: upload.contentType });
  } else if (files[kind]) {
    const upload = files[kind];
    file = emulator.registerFile(kind, { data: upload.data, fileName: upload.filename, mimeType: upload.contentType });
  } else if (typeof value === 'string' && value !== '') {
    if (/^https?:\/\//.test(value)) {
      file = emulator.registerFile(kind, { url: value, data: placeholderFor(kind) });
    } else if (emulator.files.has(value)) {
      file = emulator.files.get(value);
    } else {
      throw badRequest('wrong file identifier/HTTP URL specified');
    }
  } else {
    throw badRequest(`there is no ${kind} in the request`);
  }
  const caption = formatted(emulator, params, 'caption', 'caption_entities', 1024, 'message caption is too long');
  return storeBotMessage(emulator, bot, chat, {
    kind,
    media: { kind, object: mediaObject(kind, file, { emoji: params.emoji }), file_id: file.file_id, file_name: file.file_name, mime_type: file.mime_type, size: file.data ? file.data.length : 0 },
    caption: caption.text,
    caption_entities: caption.entities,
    raw_caption: params.caption,
  }, params);
}

const NO_OP_TRUE = ['sendchataction', 'setmycommands', 'deletemycommands', 'answercallbackquery', 'setchatmenubutton'];

/** Bot API methods; names are matched case-insensitively as Telegram does. */
const BOT_METHODS = {
  async getme(emulator, bot) {
    return { ...bot.user };
  },

  async logout() {
    return true;
  },

  async close() {
    return true;
  },

  async getupdates(emulator, bot, params, req, res) {
    if (bot.webhook) {
      throw new ApiError(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first");
    }
    const offset = intParam(params, 'offset', 0);
    const limit = Math.max(1, Math.min(100, intParam(params, 'limit', 100)));
    const timeout = Math.max(0, Math.min(50, numParam(params, 'timeout', 0)));
    if (params.allowed_updates !== undefined) {
      const allowed = params.allowed_updates;
      bot.allowedUpdates = Array.isArray(allowed) && allowed.length ? new Set(allowed) : null;
    }
    bot.getUpdatesCalls += 1;
    emulator.emit(`polling:${bot.token}`);
    // Telegram answers 409 to an older long poll when a newer one starts.
    if (bot.poller) {
      bot.poller.conflict();
    }
    let updates = emulator.takeUpdates(bot, offset, limit);
    if (updates.length || timeout === 0) {
      return emulator.handOut(bot, updates, res);
    }
    updates = await new Promise((resolve, reject) => {
      const listener = () => {
        const ready = emulator.takeUpdates(bot, 0, limit);
        if (ready.length) {
          finish();
          resolve(ready);
        }
      };
      const timer = setTimeout(() => {
        finish();
        resolve([]);
      }, timeout * 1000);
      const poller = {
        conflict: () => {
          finish();
          reject(new ApiError(409, 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running'));
        },
      };
      const onClose = () => {
        finish();
        resolve([]);
      };
      function finish() {
        clearTimeout(timer);
        emulator.off(`update:${bot.token}`, listener);
        res.off('close', onClose);
        if (bot.poller === poller) {
          bot.poller = null;
        }
      }
      bot.poller = poller;
      emulator.on(`update:${bot.token}`, listener);
      res.on('close', onClose);
    });
    return emulator.handOut(bot, updates, res);
  },

  async deletewebhook(emulator, bot, params) {
    emulator.dropWebhook(bot);
    if (params.drop_pending_updates) {
      bot.updates = [];
    }
    emulator.emit(`webhook:${bot.token}`);
    return true;
  },

  /** As Telegram: the secret is never shown back; the test side reads it at /emu/bot/webhook. */
  async getwebhookinfo(emulator, bot) {
    const hook = bot.webhook;
    if (!hook) {
      return { url: '', has_custom_certificate: false, pending_update_count: bot.updates.length };
    }
    const info = {
      url: hook.url,
      has_custom_certificate: false,
      pending_update_count: bot.updates.length,
      max_connections: hook.maxConnections,
    };
    if (hook.allowedUpdates) {
      info.allowed_updates = [...hook.allowedUpdates];
    }
    if (hook.lastError) {
      info.last_error_date = hook.lastError.date;
      info.last_error_message = hook.lastError.message;
    }
    return info;
  },

  /**
   * Like Telegram, except that plain http and any port are accepted (everything here is
   * on 127.0.0.1); an empty url removes the webhook. Updates start flowing at once.
   */
  async setwebhook(emulator, bot, params) {
    const url = String(params.url ?? '');
    if (url && !/^https?:\/\/[^/\s]+/.test(url)) {
      throw badRequest('bad webhook: An HTTPS URL must be provided for webhook');
    }
    const secretToken = params.secret_token === undefined ? null : String(params.secret_token);
    if (secretToken !== null && !/^[A-Za-z0-9_-]{1,256}$/.test(secretToken)) {
      throw badRequest('secret token contains unallowed characters');
    }
    const maxConnections = intParam(params, 'max_connections', 40);
    if (maxConnections < 1 || maxConnections > 100) {
      throw badRequest('bad webhook: max_connections must be between 1 and 100');
    }
    emulator.dropWebhook(bot);
    if (bot.poller) {
      bot.poller.conflict();
    }
    if (params.drop_pending_updates) {
      bot.updates = [];
    }
    if (params.allowed_updates !== undefined) {
      const allowed = params.allowed_updates;
      bot.allowedUpdates = Array.isArray(allowed) && allowed.length ? new Set(allowed) : null;
    }
    if (url) {
      bot.webhook = {
        url,
        secretToken,
        allowedUpdates: bot.allowedUpdates,
        maxConnections,
        dropPendingUpdates: Boolean(params.drop_pending_updates),
        attempt: 0,
        inFlight: false,
        retryTimer: null,
        lastError: null,
      };
      bot.setWebhookCalls += 1;
    }
    emulator.emit(`webhook:${bot.token}`);
    emulator.deliverWebhook(bot);
    return true;
  },

  async getmycommands(emulator, bot, params) {
    const key = JSON.stringify([params.scope || { type: 'default' }, params.language_code || '']);
    return bot.commands.get(key) || [];
  },

  async setmycommands(emulator, bot, params) {
    if (!Array.isArray(params.commands)) {
      throw badRequest('parameter "commands" is required');
    }
    const key = JSON.stringify([params.scope || { type: 'default' }, params.language_code || '']);
    bot.commands.set(key, params.commands);
    return true;
  },

  async deletemycommands(emulator, bot, params) {
    const key = JSON.stringify([params.scope || { type: 'default' }, params.language_code || '']);
    bot.commands.delete(key);
    return true;
  },

  async setchatmenubutton(emulator, bot, params) {
    bot.menuButtons.set(params.chat_id === undefined ? '' : chatKey(params.chat_id), params.menu_button || { type: 'default' });
    return true;
  },

  async sendchataction(emulator, bot, params) {
    const chat = emulator.chat(bot, requireChatId(params));
    bot.chatActions.push({ chat_id: chat.info.id, action: params.action, date: nowSeconds() });
    if (bot.chatActions.length > 1000) {
      bot.chatActions.shift();
    }
    return true;
  },

  async answercallbackquery(emulator, bot, params) {
    const id = String(params.callback_query_id || '');
    const callback = bot.callbacks.get(id);
    if (callback) {
      callback.answer = {
        text: params.text,
        show_alert: Boolean(params.show_alert),
        url: params.url,
        cache_time: params.cache_time === undefined ? undefined : Number(params.cache_time),
      };
      emulator.emit(`answer:${bot.token}:${id}`);
    }
    return true;
  },

  async getchat(emulator, bot, params) {
    const key = requireChatId(params);
    if (!bot.chats.has(key)) {
      throw badRequest('chat not found');
    }
    return { ...bot.chats.get(key).info };
  },

  async sendmessage(emulator, bot, params) {
    const chat = emulator.chat(bot, requireChatId(params));
    if (params.text === undefined || String(params.text) === '') {
      throw badRequest('message text is empty');
    }
    const text = formatted(emulator, params, 'text', 'entities', 4096, 'message is too long');
    if (text.text.trim() === '') {
      throw badRequest('message text is empty');
    }
    return storeBotMessage(emulator, bot, chat, { kind: 'text', text: text.text, raw_text: String(params.text), entities: text.entities }, params);
  },

  async sendlocation(emulator, bot, params) {
    const chat = emulator.chat(bot, requireChatId(params));
    const latitude = numParam(params, 'latitude', undefined);
    const longitude = numParam(params, 'longitude', undefined);
    if (latitude === undefined || longitude === undefined || Math.abs(latitude) > 90 || Math.abs(longitude) > 180) {
      throw badRequest('wrong latitude or longitude');
    }
    const location = { latitude, longitude };
    if (params.horizontal_accuracy !== undefined) {
      location.horizontal_accuracy = Number(params.horizontal_accuracy);
    }
    return storeBotMessage(emulator, bot, chat, { kind: 'location', location }, params);
  },

  async sendvenue(emulator, bot, params) {
    const chat = emulator.chat(bot, requireChatId(params));
    const location = { latitude: numParam(params, 'latitude', 0), longitude: numParam(params, 'longitude', 0) };
    const venue = { location, title: String(params.title || ''), address: String(params.address || '') };
    return storeBotMessage(emulator, bot, chat, { kind: 'venue', location, venue }, params);
  },

  async sendcontact(emulator, bot, params) {
    const chat = emulator.chat(bot, requireChatId(params));
    if (!params.phone_number || !params.first_name) {
      throw badRequest('phone_number and first_name are required');
    }
    const contact = { phone_number: String(params.phone_number), first_name: String(params.first_name) };
    if (params.last_name) {
      contact.last_name = String(params.last_name);
    }
    return storeBotMessage(emulator, bot, chat, { kind: 'contact', contact }, params);
  },

  async editmessagetext(emulator, bot, params) {
    rejectInlineMessage(params);
    const chat = emulator.chat(bot, requireChatId(params));
    const record = findBotMessage(chat, params, 'message to edit not found');
    if (record.text === undefined) {
      throw badRequest('there is no text in the message to edit');
    }
    if (params.text === undefined || String(params.text) === '') {
      throw badRequest('message text is empty');
    }
    const text = formatted(emulator, params, 'text', 'entities', 4096, 'message is too long');
    return applyEdit(emulator, bot, chat, record, {
      text: text.text,
      raw_text: String(params.text),
      entities: text.entities,
      parse_mode: params.parse_mode,
      // Like Telegram: an edit without reply_markup removes the inline keyboard.
      reply_markup: inlineMarkupOrNull(params) || (record.reply_markup && !record.reply_markup.inline_keyboard ? record.reply_markup : null),
    });
  },

  async editmessagecaption(emulator, bot, params) {
    rejectInlineMessage(params);
    const chat = emulator.chat(bot, requireChatId(params));
    const record = findBotMessage(chat, params, 'message to edit not found');
    if (!record.media) {
      throw badRequest('there is no caption in the message to edit');
    }
    const caption = formatted(emulator, params, 'caption', 'caption_entities', 1024, 'message caption is too long');
    return applyEdit(emulator, bot, chat, record, {
      caption: caption.text,
      caption_entities: caption.entities,
      raw_caption: params.caption,
      reply_markup: inlineMarkupOrNull(params),
    });
  },

  async editmessagereplymarkup(emulator, bot, params) {
    rejectInlineMessage(params);
    const chat = emulator.chat(bot, requireChatId(params));
    const record = findBotMessage(chat, params, 'message to edit not found');
    return applyEdit(emulator, bot, chat, record, { reply_markup: inlineMarkupOrNull(params) });
  },

  async deletemessage(emulator, bot, params) {
    const chat = emulator.chat(bot, requireChatId(params));
    const messageId = intParam(params, 'message_id', undefined);
    if (messageId === undefined) {
      throw badRequest('message identifier is not specified');
    }
    if (!deleteOne(emulator, bot, chat, messageId)) {
      throw badRequest('message to delete not found');
    }
    return true;
  },

  async deletemessages(emulator, bot, params) {
    const chat = emulator.chat(bot, requireChatId(params));
    if (!Array.isArray(params.message_ids) || params.message_ids.length === 0 || params.message_ids.length > 100) {
      throw badRequest('message_ids must be an array of 1-100 message identifiers');
    }
    params.message_ids.forEach((id) => deleteOne(emulator, bot, chat, Number(id)));
    return true;
  },

  async getfile(emulator, bot, params) {
    const file = emulator.files.get(String(params.file_id || ''));
    if (!file) {
      throw badRequest('invalid file_id');
    }
    return { file_id: file.file_id, file_unique_id: file.file_unique_id, file_size: file.data ? file.data.length : 0, file_path: file.file_path };
  },
};

for (const kind of MEDIA_KINDS) {
  const name = `send${kind.replace('_', '')}`;
  BOT_METHODS[name] = (emulator, bot, params, req, res, files) => sendMedia(emulator, bot, kind, params, files);
}
for (const name of NO_OP_TRUE) {
  if (!BOT_METHODS[name]) {
    BOT_METHODS[name] = async () => true;
  }
}

function deleteOne(emulator, bot, chat, messageId) {
  for (const [side, store] of [['bot', chat.botMessages], ['user', chat.userMessages]]) {
    const record = store.get(messageId);
    if (record && !record.deleted) {
      record.deleted = true;
      record.deleted_at = nowSeconds();
      emulator.recordOutput(bot, chat, 'deleted', side, messageId);
      return true;
    }
  }
  return false;
}

// ---------------------------------------------------------- test side ----

function userFrom(body) {
  const user = body.user || body.from || {};
  const id = Number(user.id);
  if (!Number.isSafeInteger(id) || id <= 0) {
    throw badRequest('user.id (a positive integer) is required');
  }
  const from = { id, is_bot: false, first_name: String(user.first_name || 'Test') };
  if (user.last_name) {
    from.last_name = String(user.last_name);
  }
  if (user.username) {
    from.username = String(user.username);
  }
  if (user.language_code) {
    from.language_code = String(user.language_code);
  }
  return from;
}

function userChat(emulator, bot, body, from) {
  const chatId = body.chat_id !== undefined ? body.chat_id : (body.chat && body.chat.id !== undefined ? body.chat.id : from.id);
  const chatInfo = { id: Number(chatId), type: (body.chat && body.chat.type) || 'private' };
  if (chatInfo.type === 'private') {
    chatInfo.first_name = from.first_name;
    if (from.last_name) {
      chatInfo.last_name = from.last_name;
    }
    if (from.username) {
      chatInfo.username = from.username;
    }
  } else {
    chatInfo.title = (body.chat && body.chat.title) || `Group ${chatId}`;
  }
  return emulator.chat(bot, chatId, chatInfo);
}

function requireToken(body) {
  if (!body.token || typeof body.token !== 'string') {
    throw badRequest('"token" (the bot token) is required');
  }
  return body.token;
}

function commandEntities(text) {
  const match = /^\/[^\s]+/.exec(text);
  return match ? [{ type: 'bot_command', offset: 0, length: match[0].length }] : [];
}

function fileFromBody(emulator, kind, body) {
  const data = body.content_base64 ? Buffer.from(body.content_base64, 'base64') : undefined;
  if (body.file_id && emulator.files.has(body.file_id)) {
    return emulator.files.get(body.file_id);
  }
  return emulator.registerFile(kind, {
    fileId: body.file_id,
    data: data || placeholderFor(kind),
    fileName: body.file_name,
    mimeType: body.mime_type,
  });
}

/** Build, store and queue a user message; body carries the content fields. */
function addUserMessage(emulator, body, content) {
  const bot = emulator.bot(requireToken(body));
  const from = userFrom(body);
  const chat = userChat(emulator, bot, body, from);
  const messageId = chat.nextMessageId;
  chat.nextMessageId += 1;
  const record = {
    side: 'user',
    chat_id: chat.info.id,
    message_id: messageId,
    from,
    date: nowSeconds(),
    kind: content.kind,
    deleted: false,
    deleted_at: null,
    edited: false,
    edit_date: null,
    versions: [],
    reply_to_message_id: body.reply_to_message_id === undefined ? undefined : Number(body.reply_to_message_id),
    ...content,
  };
  chat.userMessages.set(messageId, record);
  const updateId = emulator.pushUpdate(bot, 'message', telegramMessage(bot, chat, record));
  return { update_id: updateId, message_id: messageId, chat_id: chat.info.id };
}

function mediaContent(emulator, kind, body) {
  const file = fileFromBody(emulator, kind, body);
  const content = {
    kind,
    media: { kind, object: mediaObject(kind, file, body), file_id: file.file_id, file_name: file.file_name, mime_type: file.mime_type, size: file.data ? file.data.length : 0 },
  };
  if (body.caption) {
    content.caption = String(body.caption);
  }
  return content;
}

const TEST_ROUTES = {
  /** Liveness. */
  async health() {
    return { ready: true };
  },

  /** The current output cursor: replies are waited for "since a cursor". */
  async cursor(emulator) {
    return { cursor: emulator.nextOutputSeq - 1 };
  },

  /** A user's text message (a bot_command entity is added for text starting with '/'). */
  async 'user/text'(emulator, body) {
    const text = String(body.text === undefined ? '' : body.text);
    if (text === '') {
      throw badRequest('"text" is required');
    }
    const entities = Array.isArray(body.entities) ? body.entities : commandEntities(text);
    return addUserMessage(emulator, body, { kind: 'text', text, entities });
  },

  async 'user/location'(emulator, body) {
    const latitude = Number(body.latitude ?? body.lat);
    const longitude = Number(body.longitude ?? body.lon);
    if (!Number.isFinite(latitude) || !Number.isFinite(longitude)) {
      throw badRequest('"latitude" and "longitude" are required');
    }
    const location = { latitude, longitude };
    if (body.live_period) {
      location.live_period = Number(body.live_period);
    }
    return addUserMessage(emulator, body, { kind: 'location', location });
  },

  async 'user/contact'(emulator, body) {
    if (!body.phone_number) {
      throw badRequest('"phone_number" is required');
    }
    const from = userFrom(body);
    const contact = {
      phone_number: String(body.phone_number),
      first_name: String(body.first_name || from.first_name),
    };
    if (body.last_name) {
      contact.last_name = String(body.last_name);
    }
    if (body.user_id !== null) {
      contact.user_id = body.user_id === undefined ? from.id : Number(body.user_id);
    }
    return addUserMessage(emulator, body, { kind: 'contact', contact });
  },

  async 'user/sticker'(emulator, body) {
    return addUserMessage(emulator, body, mediaContent(emulator, 'sticker', body));
  },

  async 'user/photo'(emulator, body) {
    return addUserMessage(emulator, body, mediaContent(emulator, 'photo', body));
  },

  async 'user/document'(emulator, body) {
    return addUserMessage(emulator, body, mediaContent(emulator, 'document', body));
  },

  async 'user/voice'(emulator, body) {
    return addUserMessage(emulator, body, mediaContent(emulator, 'voice', body));
  },

  /** Any message: body.message holds Bot API Message fields merged over the defaults. */
  async 'user/raw'(emulator, body) {
    const extra = body.message && typeof body.message === 'object' ? body.message : {};
    return addUserMessage(emulator, body, { kind: 'raw', text: extra.text, entities: extra.entities, extra });
  },

  /** Edit a text message the user sent before: queues an edited_message update. */
  async 'user/edit'(emulator, body) {
    const bot = emulator.bot(requireToken(body));
    const from = userFrom(body);
    const chat = userChat(emulator, bot, body, from);
    const record = chat.userMessages.get(Number(body.message_id));
    if (!record || record.deleted) {
      throw badRequest(`user message ${body.message_id} not found in chat ${chat.info.id}`);
    }
    const text = String(body.text === undefined ? '' : body.text);
    if (text === '' || record.text === undefined) {
      throw badRequest('only text messages can be edited, with a non-empty "text"');
    }
    record.versions.push(snapshotOf(record));
    record.text = text;
    record.entities = Array.isArray(body.entities) ? body.entities : commandEntities(text);
    record.edited = true;
    record.edit_date = nowSeconds();
    const updateId = emulator.pushUpdate(bot, 'edited_message', telegramMessage(bot, chat, record));
    return { update_id: updateId, message_id: record.message_id, chat_id: chat.info.id };
  },

  /** Press an inline button of a bot message: queues a callback_query update. */
  async 'user/callback'(emulator, body) {
    const bot = emulator.bot(requireToken(body));
    const from = userFrom(body);
    const chat = userChat(emulator, bot, body, from);
    const messageId = Number(body.message_id);
    const record = chat.botMessages.get(messageId);
    const data = body.data === undefined ? body.callback_data : body.data;
    if (data === undefined || data === null) {
      throw badRequest('"data" (the callback_data) is required');
    }
    if (!body.force) {
      if (!record) {
        throw badRequest(`bot message ${messageId} not found in chat ${chat.info.id}`);
      }
      if (record.deleted) {
        throw badRequest(`bot message ${messageId} in chat ${chat.info.id} was deleted`);
      }
      const buttons = (record.reply_markup && record.reply_markup.inline_keyboard) || [];
      const datas = buttons.flat().map((b) => b.callback_data).filter((d) => d !== undefined);
      if (!datas.includes(String(data))) {
        throw badRequest(`message ${messageId} has no inline button with callback_data ${JSON.stringify(data)}; it has ${JSON.stringify(datas)}`);
      }
    }
    const id = `${bot.user.id}${String(emulator.nextCallbackId).padStart(6, '0')}`;
    emulator.nextCallbackId += 1;
    const callback = { id, from, chat_instance: chat.instance, data: String(data) };
    if (record) {
      callback.message = telegramMessage(bot, chat, record);
    }
    bot.callbacks.set(id, { chatId: chat.info.id, messageId, data: String(data), answer: null });
    const updateId = emulator.pushUpdate(bot, 'callback_query', callback);
    return { update_id: updateId, callback_query_id: id, chat_id: chat.info.id };
  },

  /** Wait (long poll) for the bot's answerCallbackQuery to a query. */
  async 'callback/answer'(emulator, body, res) {
    const bot = emulator.bot(requireToken(body));
    const id = String(body.callback_query_id || '');
    const callback = bot.callbacks.get(id);
    if (!callback) {
      throw badRequest(`unknown callback_query_id ${id}`);
    }
    const timeout = Math.max(0, Number(body.timeout ?? 10));
    await waitUntil(emulator, `answer:${bot.token}:${id}`, () => callback.answer !== null, timeout, res);
    return { answered: callback.answer !== null, answer: callback.answer };
  },

  /**
   * Wait until the bot produced `count` new outputs in a chat after `cursor`.
   * Outputs are the events listed in `events` (default sent and edited); each
   * comes as a snapshot of the message at that moment, with its current
   * `deleted` flag. Returns at most `count` of them (all available when count
   * <= 0, without waiting) and the cursor to pass next time.
   */
  async 'bot/wait'(emulator, body, res) {
    const bot = emulator.bot(requireToken(body));
    if (body.chat_id === undefined) {
      throw badRequest('"chat_id" is required');
    }
    const chat = emulator.chat(bot, body.chat_id);
    const cursor = Number(body.cursor || 0);
    const count = Number(body.count ?? 1);
    const timeout = Math.max(0, Number(body.timeout ?? 10));
    const events = new Set(Array.isArray(body.events) ? body.events : ['sent', 'edited']);
    const matching = () => chat.outputs.filter((o) => o.seq > cursor && o.side === 'bot' && events.has(o.event));
    if (count > 0) {
      await waitUntil(emulator, `output:${bot.token}:${chat.key}`, () => matching().length >= count, timeout, res);
    }
    const found = matching();
    const taken = count > 0 ? found.slice(0, count) : found;
    return {
      messages: taken.map((o) => outputView(chat, o)),
      cursor: taken.length ? taken[taken.length - 1].seq : cursor,
      complete: count <= 0 || taken.length >= count,
    };
  },

  /** Every message of a chat, both sides, current state plus previous versions, and the event log. */
  async 'bot/history'(emulator, body) {
    const bot = emulator.bot(requireToken(body));
    if (body.chat_id === undefined) {
      throw badRequest('"chat_id" is required');
    }
    const chat = emulator.chat(bot, body.chat_id);
    const view = (record) => ({ ...snapshotOf(record), versions: record.versions });
    return {
      chat: chat.info,
      messages: [...chat.botMessages.values()].map(view),
      user_messages: [...chat.userMessages.values()].map(view),
      events: chat.outputs.map((o) => ({ seq: o.seq, event: o.event, side: o.side, message_id: o.messageId })),
    };
  },

  /**
   * Flood control by rate, as Telegram does it: once the bot has had `max_rate` messages
   * accepted (send*, edit*, copy*, forward*, deleteMessage) in the last second, the next one
   * is answered 429 with `retry_after` (whole seconds), and so is every one until that time
   * has passed — a bot that does not wait keeps being refused. `max_rate` 0 disarms it.
   * Answers the counts so far (`accepted`, `refused`); `bot/rate_limit_stats` reads them.
   */
  async 'bot/rate_limit'(emulator, body) {
    const bot = emulator.bot(requireToken(body));
    const maxRate = Number(body.max_rate || 0);
    bot.rateLimit = maxRate > 0
      ? { maxRate, retryAfter: Math.max(1, Math.round(Number(body.retry_after || 1))), accepted: [], blockedUntil: 0, counts: { accepted: 0, refused: 0 } }
      : null;
    return { armed: maxRate > 0 };
  },

  async 'bot/rate_limit_stats'(emulator, body) {
    const bot = emulator.bot(requireToken(body));
    return bot.rateLimit ? { ...bot.rateLimit.counts, max_rate: bot.rateLimit.maxRate } : { accepted: 0, refused: 0, max_rate: 0 };
  },

  /** What the bot registered with setMyCommands, chat actions, menu buttons, pending updates. */
  /** Make the next `count` calls of a bot method answer 429 with `retry_after` (flood control). */
  async 'bot/flood'(emulator, body) {
    const bot = emulator.bot(requireToken(body));
    bot.faults = bot.faults || {};
    bot.faults[String(body.method).toLowerCase()] = { count: Number(body.count || 1), retry_after: Number(body.retry_after || 1) };
    return { armed: bot.faults };
  },

  async 'bot/state'(emulator, body) {
    const bot = emulator.bot(requireToken(body));
    return {
      me: bot.user,
      commands: [...bot.commands.entries()].map(([key, commands]) => {
        const [scope, languageCode] = JSON.parse(key);
        return { scope, language_code: languageCode, commands };
      }),
      menu_buttons: Object.fromEntries(bot.menuButtons),
      chat_actions: bot.chatActions,
      pending_updates: bot.updates.length,
      long_polling: bot.poller !== null,
      get_updates_calls: bot.getUpdatesCalls,
    };
  },

  /**
   * Wait until the bot has called getUpdates more than `after_calls` times (it is
   * started and polling: updates sent now reach it even with drop_pending_updates).
   */
  async 'bot/polling'(emulator, body, res) {
    const bot = emulator.bot(requireToken(body));
    const timeout = Math.max(0, Number(body.timeout ?? 10));
    const after = Number(body.after_calls || 0);
    await waitUntil(emulator, `polling:${bot.token}`, () => bot.getUpdatesCalls > after, timeout, res);
    return { polling: bot.getUpdatesCalls > after, get_updates_calls: bot.getUpdatesCalls, long_polling: bot.poller !== null };
  },

  /**
   * The bot's webhook as it set it, secret included (getWebhookInfo never shows it), and
   * every delivery attempt so far. With `timeout`, waits until setWebhook has set a URL
   * more than `after_set_calls` times: the webhook bot is started.
   */
  async 'bot/webhook'(emulator, body, res) {
    const bot = emulator.bot(requireToken(body));
    const timeout = Math.max(0, Number(body.timeout ?? 0));
    const after = Number(body.after_set_calls || 0);
    await waitUntil(emulator, `webhook:${bot.token}`, () => bot.setWebhookCalls > after, timeout, res);
    const hook = bot.webhook;
    return {
      set: bot.setWebhookCalls > after && hook !== null,
      set_webhook_calls: bot.setWebhookCalls,
      webhook: hook && {
        url: hook.url,
        secret_token: hook.secretToken,
        allowed_updates: hook.allowedUpdates ? [...hook.allowedUpdates] : null,
        max_connections: hook.maxConnections,
        drop_pending_updates: hook.dropPendingUpdates,
      },
      deliveries: bot.webhookDeliveries,
      pending_updates: bot.updates.length,
    };
  },

  /**
   * Wait until getUpdates answers have handed out more than `after` updates in all (the
   * bot has them, confirmed or not: see bot/drained for confirmed).
   */
  async 'bot/fetched'(emulator, body, res) {
    const bot = emulator.bot(requireToken(body));
    const timeout = Math.max(0, Number(body.timeout ?? 10));
    const after = Number(body.after || 0);
    await waitUntil(emulator, `fetched:${bot.token}`, () => bot.handedOut > after, timeout, res);
    return { fetched: bot.handedOut > after, handed_out: bot.handedOut, pending_updates: bot.updates.length };
  },

  /** Change what getMe answers for a token. */
  async 'bot/profile'(emulator, body) {
    const bot = emulator.bot(requireToken(body));
    for (const key of ['first_name', 'username', 'can_join_groups', 'can_read_all_group_messages', 'supports_inline_queries']) {
      if (body[key] !== undefined) {
        bot.user[key] = body[key];
      }
    }
    return bot.user;
  },

  /**
   * Wait until the bot has fetched and confirmed (by a later getUpdates offset) every
   * queued update. Its handlers may still be running: wait for replies with bot/wait.
   */
  async 'bot/drained'(emulator, body, res) {
    const bot = emulator.bot(requireToken(body));
    const timeout = Math.max(0, Number(body.timeout ?? 10));
    await waitUntil(emulator, `update:${bot.token}`, () => bot.updates.length === 0, timeout, res, `confirmed:${bot.token}`);
    return { drained: bot.updates.length === 0, pending_updates: bot.updates.length };
  },

  /** Forget a token's state (or everything without a token). */
  async reset(emulator, body) {
    for (const bot of emulator.bots.values()) {
      if (!body.token || bot.token === body.token) {
        emulator.dropWebhook(bot);
      }
    }
    if (body.token) {
      emulator.bots.delete(body.token);
    } else {
      emulator.bots.clear();
      emulator.files.clear();
    }
    return true;
  },
};

function outputView(chat, output) {
  const store = output.side === 'bot' ? chat.botMessages : chat.userMessages;
  const current = store.get(output.messageId);
  return {
    ...output.snapshot,
    seq: output.seq,
    event: output.event,
    deleted: current ? current.deleted : true,
  };
}

/** Resolve once check() holds (re-checked on `eventName`), after `timeout` s, or when the client leaves. */
function waitUntil(emulator, eventName, check, timeout, res, otherEvent) {
  if (check() || timeout <= 0) {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const listener = () => {
      if (check()) {
        finish();
      }
    };
    const timer = setTimeout(finish, timeout * 1000);
    function finish() {
      clearTimeout(timer);
      emulator.off(eventName, listener);
      if (otherEvent) {
        emulator.off(otherEvent, listener);
      }
      res.off('close', finish);
      resolve();
    }
    emulator.on(eventName, listener);
    if (otherEvent) {
      emulator.on(otherEvent, listener);
    }
    res.on('close', finish);
  });
}

// -------------------------------------------------------------- routes ----

/** Methods that put a message in a chat (or take one out): what flood control counts. */
function countsForFloodControl(method) {
  return /^(send|edit|copy|forward)/.test(method) || method === 'deletemessage' || method === 'deletemessages';
}

/** Throw Telegram's 429 when the bot is over its armed rate (see bot/rate_limit). */
function rateLimited(bot, method) {
  const limit = bot.rateLimit;
  if (!limit || !countsForFloodControl(method)) {
    return;
  }
  const now = Date.now();
  while (limit.accepted.length && limit.accepted[0] <= now - 1000) {
    limit.accepted.shift();
  }
  if (now >= limit.blockedUntil && limit.accepted.length >= limit.maxRate) {
    limit.blockedUntil = now + limit.retryAfter * 1000;
  }
  if (now < limit.blockedUntil) {
    limit.counts.refused += 1;
    const wait = Math.max(1, Math.ceil((limit.blockedUntil - now) / 1000));
    throw new ApiError(429, `Too Many Requests: retry after ${wait}`, { retry_after: wait });
  }
  limit.accepted.push(now);
  limit.counts.accepted += 1;
}

let EMULATOR = null;

function log(message) {
  if (EMULATOR && EMULATOR.options.verbose) {
    process.stderr.write(`[emulator] ${message}\n`);
  }
}

/** Our routes, installed in front of telegram-test-api's own. */
function installRoutes(app) {
  app.all('/bot:token/:method', async (req, res) => {
    const emulator = EMULATOR;
    const { token } = req.params;
    const method = String(req.params.method).toLowerCase();
    try {
      if (req.method !== 'GET' && req.method !== 'POST') {
        throw new ApiError(405, `Method Not Allowed: HTTP method ${req.method} is not supported`);
      }
      let raw = { ...req.query, ...(req.body && typeof req.body === 'object' ? req.body : {}) };
      let files = {};
      const contentType = req.headers['content-type'] || '';
      if (contentType.startsWith('multipart/form-data')) {
        const parsed = parseMultipart(await readBody(req, 60 * 1024 * 1024), contentType);
        raw = { ...req.query, ...parsed.fields };
        files = parsed.files;
      }
      const params = normaliseParams(raw);
      const handler = BOT_METHODS[method];
      if (!handler) {
        throw badRequest(`method "${req.params.method}" is not implemented by the Telegram emulator`);
      }
      const bot = emulator.bot(token);
      const fault = (bot.faults || {})[method];
      if (fault && fault.count > 0) {
        fault.count -= 1;
        throw new ApiError(429, `Too Many Requests: retry after ${fault.retry_after}`, { retry_after: fault.retry_after });
      }
      rateLimited(bot, method);
      const before = bot.updates.length;
      const result = await handler(emulator, bot, params, req, res, files);
      if (method !== 'getupdates') {
        log(`${req.params.method} ${JSON.stringify(params).slice(0, 300)}`);
      }
      if (bot.updates.length < before || (method === 'getupdates' && bot.updates.length === 0)) {
        emulator.emit(`confirmed:${token}`);
      }
      sendOk(res, result);
    } catch (error) {
      if (!(error instanceof ApiError)) {
        process.stderr.write(`[emulator] ${req.params.method} failed: ${error && error.stack}\n`);
      } else {
        log(`${req.params.method} -> ${error.code} ${error.message}`);
      }
      sendApiError(res, error);
    }
  });

  app.get('/file/bot:token/*', (req, res) => {
    const filePath = req.params[0];
    const file = [...EMULATOR.files.values()].find((f) => f.file_path === filePath);
    if (!file || !file.data) {
      res.status(404).json({ ok: false, error_code: 404, description: 'Not Found' });
      return;
    }
    res.status(200).type(file.mime_type || 'application/octet-stream').send(file.data);
  });

  app.post('/emu/*', async (req, res) => {
    const name = req.params[0].replace(/\/+$/, '');
    const handler = TEST_ROUTES[name];
    try {
      if (!handler) {
        throw new ApiError(404, `Not Found: no test route /emu/${name}; routes: ${Object.keys(TEST_ROUTES).map((r) => `/emu/${r}`).join(', ')}`);
      }
      const body = req.body && typeof req.body === 'object' ? req.body : {};
      const result = await handler(EMULATOR, body, res);
      log(`/emu/${name} ${JSON.stringify(body).slice(0, 200)}`);
      sendOk(res, result);
    } catch (error) {
      if (!(error instanceof ApiError)) {
        process.stderr.write(`[emulator] /emu/${name} failed: ${error && error.stack}\n`);
      }
      sendApiError(res, error);
    }
  });

  // The stock test-side routes keep their own storage, which the bot never sees here.
  for (const stock of ['/sendMessage', '/sendCommand', '/sendCallback', '/getUpdates', '/getUpdatesHistory']) {
    app.post(stock, (req, res) => sendApiError(res, new ApiError(410, `Gone: ${stock} of telegram-test-api is replaced by the /emu/* routes of server.js`)));
  }
}

// ---------------------------------------------------------------- main ----

process.on('unhandledRejection', (reason) => {
  process.stderr.write(`[emulator] unhandled rejection: ${reason && reason.stack ? reason.stack : reason}\n`);
});
process.on('uncaughtException', (error) => {
  process.stderr.write(`[emulator] uncaught exception: ${error && error.stack ? error.stack : error}\n`);
});

async function main() {
  let options;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`server.js: ${error.message}\n`);
    process.exit(2);
  }
  EMULATOR = new Emulator(options);
  stockRoutes.unshift(installRoutes);
  const server = new TelegramServer({
    port: options.port,
    host: options.host,
    storage: 'RAM',
    storeTimeout: options.storeTimeout,
  });
  try {
    await server.start();
  } catch (error) {
    process.stderr.write(`server.js: cannot listen on ${options.host}:${options.port}: ${error.message}\n`);
    process.exit(3);
  }
  const stop = async (signal) => {
    log(`stopping on ${signal}`);
    // Pending long polls would hold the graceful shutdown: end them.
    for (const bot of EMULATOR.bots.values()) {
      if (bot.poller) {
        bot.poller.conflict();
      }
    }
    const timer = setTimeout(() => process.exit(0), 2000);
    timer.unref();
    await server.stop().catch(() => {});
    process.exit(0);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.stdout.write(`READY ${options.port}\n`);
}

main();
