// Runs a ServiceNow business rule outside ServiceNow. Just enough of the Glide API is mocked
// for the rule to build its outbound REST call, which is captured instead of sent.
//
// usage: node run-business-rule.js RULE.js RECORD.json
// RECORD.json is an incident as the webhook receives it; its `server_url` becomes the
// `glide.servlet.uri` property and every other key a field of `current`.
// Prints {"requests":[{endpoint,method,headers,body,async}],"logs":[...]} on stdout.
'use strict';

const fs = require('fs');
const vm = require('vm');

const [rulePath, recordPath] = process.argv.slice(2);
const rule = fs.readFileSync(rulePath, 'utf8');
const record = JSON.parse(fs.readFileSync(recordPath, 'utf8'));
const serverUrl = record.server_url;
delete record.server_url;

const requests = [];
const logs = [];

// Unknown methods of a mocked Glide object are no-ops, so a rule calling an optional setter
// (timeouts, log levels, MID server) still runs.
function lenient(target, label) {
  return new Proxy(target, {
    get(obj, prop) {
      if (prop in obj || typeof prop === 'symbol') return obj[prop];
      return (...args) => {
        logs.push(`${label}.${String(prop)}(${args.map(String).join(', ')})`);
        return undefined;
      };
    },
  });
}

function arrayList(items) {
  const list = items.slice();
  Object.defineProperty(list, 'size', { value: () => list.length });
  Object.defineProperty(list, 'get', { value: (i) => list[i] });
  return list;
}

// A GlideElement: an object (so always truthy), whose string form is the value or ''.
function element(name, value) {
  return {
    getName: () => name,
    getValue: () => value,
    getDisplayValue: () => (value === null ? '' : value),
    getLabel: () => name,
    nil: () => value === null || value === '',
    changes: () => true,
    toString: () => (value === null ? '' : String(value)),
  };
}

function glideRecord(fields) {
  const gr = {};
  const names = Object.keys(fields);
  for (const name of names) gr[name] = element(name, fields[name]);
  const methods = {
    getValue: (name) => (name in fields ? fields[name] : null),
    getDisplayValue: (name) => (name === undefined ? fields.number : fields[name] ?? ''),
    getElement: (name) => gr[name],
    getElements: () => arrayList(names.map((n) => gr[n])),
    getFields: () => arrayList(names.map((n) => gr[n])),
    getUniqueValue: () => fields.sys_id,
    getTableName: () => 'incident',
    getRecordClassName: () => 'incident',
    getLink: () => `incident.do?sys_id=${fields.sys_id}`,
    isValidRecord: () => true,
    isValid: () => true,
    isNewRecord: () => false,
    operation: () => (fields.sys_mod_count === '0' ? 'insert' : 'update'),
  };
  // Glide methods are not enumerable: `for (var f in current)` yields only field names.
  for (const [name, fn] of Object.entries(methods)) {
    Object.defineProperty(gr, name, { value: fn, enumerable: false });
  }
  return gr;
}

class RESTMessageV2 {
  constructor() {
    this.request = { endpoint: null, method: null, headers: {}, body: null, async: false };
    return lenient(this, 'RESTMessageV2');
  }
  setEndpoint(url) { this.request.endpoint = String(url); }
  getEndpoint() { return this.request.endpoint; }
  setHttpMethod(method) { this.request.method = String(method); }
  setRequestHeader(name, value) { this.request.headers[String(name)] = String(value); }
  // As ServiceNow does: the credentials become an Authorization header.
  setBasicAuth(user, password) {
    const token = Buffer.from(`${String(user)}:${String(password)}`, 'utf8').toString('base64');
    this.request.headers.Authorization = `Basic ${token}`;
  }
  setRequestBody(body) { this.request.body = String(body); }
  getRequestBody() { return this.request.body; }
  execute() {
    requests.push(this.request);
    return lenient({
      getStatusCode: () => 201,
      getBody: () => '{"outcome":"created"}',
      haveError: () => false,
      getErrorMessage: () => '',
      getErrorCode: () => 0,
      getHeader: () => '',
      waitForResponse: () => undefined,
    }, 'RESTResponseV2');
  }
  executeAsync() {
    this.request.async = true;
    return this.execute();
  }
}

function log(level) {
  return (...args) => logs.push(`gs.${level}: ${args.map(String).join(' ')}`);
}

const gs = lenient({
  getProperty: (name, fallback) => {
    if (name === 'glide.servlet.uri') return serverUrl;
    if (name === 'instance_name') return new URL(serverUrl).hostname.split('.')[0];
    return fallback === undefined ? null : fallback;
  },
  info: log('info'),
  warn: log('warn'),
  error: log('error'),
  debug: log('debug'),
  log: log('log'),
  print: log('print'),
  getUserName: () => 'admin',
  nowDateTime: () => '2026-11-28 09:12:44',
}, 'gs');

class GlideRecordUtil {
  getFields(gr) { return arrayList(Object.keys(gr)); }
  populateFromGR(map, gr) {
    for (const name of Object.keys(gr)) map[name] = gr.getValue(name);
  }
}

function ServiceNowJSON() {
  return { encode: (o) => JSON.stringify(o), decode: (s) => JSON.parse(s) };
}

const current = glideRecord(record);
const sandbox = {
  current,
  previous: null,
  gs,
  sn_ws: { RESTMessageV2 },
  GlideRecordUtil,
  global: { JSON: ServiceNowJSON },
};
vm.runInNewContext(rule, sandbox, { filename: rulePath, timeout: 5000 });
process.stdout.write(JSON.stringify({ requests, logs }));
