// Host functions for HTTP: route registration, whole answers and streamed calls (ABI 1.2).
#include <optional>

#include "host_api.hpp"
#include "runtime.hpp"

namespace mesh::plugin {

void abort_stream(const std::shared_ptr<StreamCall>& c) {
  bool now = false;
  {
    std::lock_guard lock(c->mu);
    if (c->done || c->aborted) return;
    c->aborted = true;
    now = !c->writing;
    if (now) c->done = true;
  }
  c->cv.notify_all();
  if (now) {
    try {
      (void)c->ex->end(false);
    } catch (...) {
    }
  }
}

int32_t stream_code(const Status& st) {
  if (st) return MESH_OK;
  switch (st.error().code) {
    case Errc::invalid:
      return MESH_E_INVALID;
    case Errc::limit:
      return MESH_E_LIMIT;
    default:  // the client went away, timed out, or the call is over
      return MESH_E_STATE;
  }
}

std::shared_ptr<StreamCall> Runtime::find_stream(std::uint64_t call_id, int32_t* rc) {
  std::shared_ptr<StreamCall> c;
  *rc = with_entry(stream_calls, call_id, [&](auto it) { c = it->second; });
  return c;
}

void Runtime::forget_stream(std::uint64_t call_id, const std::shared_ptr<StreamCall>& c) {
  std::lock_guard lock(mu);
  auto it = stream_calls.find(call_id);
  if (it != stream_calls.end() && it->second == c) stream_calls.erase(it);
}

int32_t Runtime::answer(std::uint64_t call_id, http::Response out) {
  http::Responder resp;
  std::shared_ptr<StreamCall> stream;
  {
    std::lock_guard lock(mu);
    if (!usable_locked()) return MESH_E_STATE;
    auto it = http_calls.find(call_id);
    if (it != http_calls.end()) {
      resp = std::move(it->second);
      http_calls.erase(it);
      idle.notify_all();
    } else if (auto st = stream_calls.find(call_id); st != stream_calls.end()) {
      stream = st->second;
    } else {
      return MESH_E_NOT_FOUND;
    }
  }
  if (resp) {
    resp(std::move(out));
    return MESH_OK;
  }
  // A streamed call, answered whole (only before http_begin).
  int32_t rc = stream_op(stream, Finish::on_success,
                         [&] { return stream_code(stream->ex->respond(std::move(out))); });
  if (rc == MESH_OK) forget_stream(call_id, stream);
  return rc;
}

namespace host {
namespace {

int32_t add_route(void* ctx, mesh_str method, mesh_str path, uint64_t max_body, uint32_t flags,
                  mesh_http_handler handler, void* user, char* err, size_t err_cap) {
  return guarded(ctx, err, err_cap, [&](Runtime* p) {
    std::string m(as_view(method)), pa(as_view(path));
    if (!handler) return set_err(err, err_cap, "no handler"), MESH_E_INVALID;
    if (flags & ~kKnownRouteFlags)
      return set_err(err, err_cap, "unknown route flags " + std::to_string(flags)), MESH_E_INVALID;
    if (!valid_method(m))
      return set_err(err, err_cap, "invalid method (upper-case token or \"*\")"), MESH_E_INVALID;
    if (!valid_route_path(pa))
      return set_err(err, err_cap, "invalid path (absolute, no trailing '/', no spaces)"),
             MESH_E_INVALID;
    if (max_body > ((flags & MESH_ROUTE_STREAM) ? kMaxStreamBody : kMaxRouteBody))
      return set_err(err, err_cap,
                     (flags & MESH_ROUTE_STREAM) ? "max_body is larger than 64 GiB"
                                                 : "max_body is larger than 1 GiB"),
             MESH_E_LIMIT;
    std::lock_guard lock(p->mu);
    if (p->phase != Phase::active) return set_err(err, err_cap, "plugin is stopping"), MESH_E_STATE;
    if (p->routes.size() >= kMaxRoutes)
      return set_err(err, err_cap, "too many routes"), MESH_E_LIMIT;
    http::RouteOptions opts;
    opts.max_body = static_cast<std::size_t>(max_body);
    opts.access = (flags & MESH_ROUTE_LOCAL) ? http::Access::local : http::Access::member;
    std::weak_ptr<Runtime> weak = p->weak_from_this();
    http::RouteId rid = 0;
    bool added = false;
    if (p->router && (flags & MESH_ROUTE_STREAM)) {
      // A dropped Exchange answers 500 by itself (or closes the connection).
      auto h = [weak, handler, user](http::Request&& req, std::shared_ptr<http::Exchange> ex) {
        if (auto rt = weak.lock())
          rt->dispatch_stream(std::move(req), std::move(ex), handler, user);
      };
      added = p->router->try_add_stream(m, pa, opts, std::move(h), &rid);
    } else if (p->router) {
      auto h = [weak, handler, user](http::Request&& req, http::Responder resp) {
        if (auto rt = weak.lock())
          rt->dispatch_http(std::move(req), std::move(resp), handler, user);
        else
          resp(http::Response::text(503, "plugin is stopped\n"));
      };
      added = p->router->try_add(m, pa, opts, std::move(h), &rid);
    }
    if (!added)
      return set_err(err, err_cap, "route " + m + " " + pa + " is already registered"),
             MESH_E_EXISTS;
    p->routes.push_back(rid);
    return MESH_OK;
  });
}

// Validates and copies response headers (as http_respond always has).
int32_t copy_headers(const mesh_http_header* headers, size_t count,
                     std::vector<std::pair<std::string, std::string>>& out) {
  if (count > kMaxResponseHeaders) return MESH_E_LIMIT;
  if (count && !headers) return MESH_E_INVALID;
  for (size_t i = 0; i < count; ++i) {
    auto n = as_view(headers[i].name), v = as_view(headers[i].value);
    if (!valid_header_name(n) || !valid_header_value(v)) return MESH_E_INVALID;
    out.emplace_back(std::string(n), std::string(v));
  }
  return MESH_OK;
}

}  // namespace

int32_t http_route(void* ctx, mesh_str method, mesh_str path, uint64_t max_body,
                   mesh_http_handler handler, void* user, char* err, size_t err_cap) {
  return add_route(ctx, method, path, max_body, 0, handler, user, err, err_cap);
}

int32_t http_route2(void* ctx, mesh_str method, mesh_str path, uint64_t max_body, uint32_t flags,
                    mesh_http_handler handler, void* user, char* err, size_t err_cap) {
  return add_route(ctx, method, path, max_body, flags, handler, user, err, err_cap);
}

int32_t http_respond(void* ctx, uint64_t call_id, const mesh_http_response* r) {
  return guarded(ctx, [&](Runtime* p) {
    if (!p->usable()) return MESH_E_STATE;
    if (!r || !MESH_HAS_FIELD(r, mesh_http_response, body)) return MESH_E_INVALID;
    if (r->status < 100 || r->status > 599) return MESH_E_INVALID;
    if (r->body.len > kMaxResponseBody) return MESH_E_LIMIT;
    if (r->body.len && !r->body.ptr) return MESH_E_INVALID;
    http::Response out;
    out.status = r->status;
    if (int32_t rc = copy_headers(r->headers, r->header_count, out.headers); rc != MESH_OK)
      return rc;
    out.body.assign(as_view(r->body));
    return p->answer(call_id, std::move(out));
  });
}

int32_t http_read(void* ctx, uint64_t call_id, char* buf, size_t cap, size_t* got) {
  return guarded(ctx, [&](Runtime* p) {
    if (!got) return MESH_E_INVALID;
    *got = 0;
    if (cap && !buf) return MESH_E_INVALID;
    int32_t rc = MESH_OK;
    auto c = p->find_stream(call_id, &rc);
    if (!c) return rc;
    {
      std::lock_guard lock(c->mu);
      if (c->reading) return MESH_E_STATE;  // one reader at a time
      if (c->aborted) return MESH_E_STATE;
      c->reading = true;
    }
    Result<std::size_t> r = make_error(Errc::internal, "");
    try {
      r = c->ex->read(buf, cap);
    } catch (...) {
    }
    {
      std::lock_guard lock(c->mu);
      c->reading = false;
    }
    if (!r) return stream_code(r.error());
    *got = *r;
    return MESH_OK;
  });
}

int32_t http_begin(void* ctx, uint64_t call_id, uint32_t status, const mesh_http_header* headers,
                   size_t header_count) {
  return guarded(ctx, [&](Runtime* p) {
    if (status < 100 || status > 599) return MESH_E_INVALID;
    std::vector<std::pair<std::string, std::string>> hs;
    if (int32_t rc = copy_headers(headers, header_count, hs); rc != MESH_OK) return rc;
    int32_t rc = MESH_OK;
    auto c = p->find_stream(call_id, &rc);
    if (!c) return rc;
    return stream_op(c, Finish::no,
                     [&] { return stream_code(c->ex->begin(status, std::move(hs))); });
  });
}

int32_t http_write(void* ctx, uint64_t call_id, mesh_str data) {
  return guarded(ctx, [&](Runtime* p) {
    if (data.len && !data.ptr) return MESH_E_INVALID;
    int32_t rc = MESH_OK;
    auto c = p->find_stream(call_id, &rc);
    if (!c) return rc;
    return stream_op(c, Finish::no, [&] { return stream_code(c->ex->write(as_view(data))); });
  });
}

int32_t http_end(void* ctx, uint64_t call_id, uint32_t ok) {
  return guarded(ctx, [&](Runtime* p) {
    int32_t rc = MESH_OK;
    auto c = p->find_stream(call_id, &rc);
    if (!c) return rc;
    p->forget_stream(call_id, c);  // dead afterwards, whatever happens below
    if (!ok) {
      abort_stream(c);  // also while another thread writes: it closes right after
      return MESH_OK;
    }
    return stream_op(c, Finish::always, [&] { return stream_code(c->ex->end(true)); });
  });
}

}  // namespace host
}  // namespace mesh::plugin
