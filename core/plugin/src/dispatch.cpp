// Calls into a plugin: HTTP requests, streamed calls, CLI verbs, timers and events are handed
// from the thread that received them (an I/O thread, the bus's delivery thread) to the plugin
// executor, counted so that quiesce() can wait for them, and answered if the plugin cannot.
#include <algorithm>
#include <boost/asio/post.hpp>

#include "runtime.hpp"

namespace mesh::plugin {

// ---- HTTP ----

void Runtime::dispatch_http(http::Request&& req, http::Responder resp, mesh_http_handler fn,
                            void* user) {
  std::unique_lock lock(mu);
  if (phase != Phase::active) {
    lock.unlock();
    resp(http::Response::text(503, "plugin " + id + " is stopped\n"));
    return;
  }
  if (load_locked() >= kMaxPendingCalls) {
    lock.unlock();
    resp(http::Response::text(503, "plugin " + id + " is busy\n"));
    return;
  }
  ++queued;
  asio::post(*executor,
             [self = shared_from_this(), req = std::move(req), resp = std::move(resp), fn,
              user]() mutable { self->run_http(std::move(req), std::move(resp), fn, user); });
}

// The ABI view of a request: it points into the Request and into this struct.
struct Runtime::RequestView {
  std::vector<mesh_http_header> headers;
  std::vector<mesh_http_header> params;
  std::string peer_id;
  mesh_http_request r{};
};

void Runtime::fill_request(const http::Request& req, std::uint64_t call_id, RequestView& v) {
  v.headers.reserve(req.headers.size());
  for (const auto& [n, val] : req.headers) v.headers.push_back({as_str(n), as_str(val)});
  v.params.reserve(req.params.size());
  for (const auto& [n, val] : req.params) v.params.push_back({as_str(n), as_str(val)});
  v.peer_id = req.peer ? req.peer->id() : std::string();
  mesh_http_request& r = v.r;
  r.struct_size = sizeof r;
  r.client_kind = req.peer ? MESH_CLIENT_MEMBER : MESH_CLIENT_LOCAL;
  r.call_id = call_id;
  r.method = as_str(req.method);
  r.path = as_str(req.path);
  r.query = as_str(req.query);
  r.headers = v.headers.data();
  r.header_count = v.headers.size();
  r.body = as_str(req.body);
  r.peer_id = as_str(v.peer_id);
  r.remote = as_str(req.remote);
  r.tls = req.tls ? 1u : 0u;
  // ABI 1.3: the captures of a pattern route, in path order (none for a prefix route).
  r.params = v.params.empty() ? nullptr : v.params.data();
  r.param_count = v.params.size();
}

void Runtime::run_http(http::Request&& req, http::Responder resp, mesh_http_handler fn,
                       void* user) {
  const std::uint64_t call_id = ids.fetch_add(1);
  RequestView view;
  fill_request(req, call_id, view);

  // The call is registered before the handler runs: it may answer from inside.
  Ran ran = run_callback("an HTTP handler", [&] {
    {
      std::lock_guard lock(mu);
      http_calls.emplace(call_id, resp);
    }
    fn(user, &view.r);
  });
  if (ran == Ran::no) {
    resp(http::Response::text(503, "plugin " + id + " is stopped\n"));
  } else if (ran == Ran::threw) {
    http::Responder pending;
    {
      std::lock_guard lock(mu);
      pending = take(http_calls, call_id);
    }
    if (pending) pending(http::Response::text(500, "internal error in plugin " + id + "\n"));
  }
}

// ---- streamed HTTP (ABI 1.2) ----

// Called by the Router on the connection's I/O strand, which must not block: every Exchange
// call, even a refusal, happens on the executor.
void Runtime::dispatch_stream(http::Request&& req, std::shared_ptr<http::Exchange> ex,
                              mesh_http_handler fn, void* user) {
  std::unique_lock lock(mu);
  if (phase != Phase::active || load_locked() >= kMaxPendingCalls ||
      stream_calls.size() >= kMaxStreamCalls) {
    std::string why = "plugin " + id + (phase == Phase::active ? " is busy\n" : " is stopped\n");
    lock.unlock();
    asio::post(host_pool, [ex = std::move(ex), why = std::move(why)] {
      (void)ex->respond(http::Response::text(503, why));
    });
    return;
  }
  ++queued;
  asio::post(*executor,
             [self = shared_from_this(), req = std::move(req), ex = std::move(ex), fn,
              user]() mutable { self->run_stream(std::move(req), std::move(ex), fn, user); });
}

void Runtime::run_stream(http::Request&& req, std::shared_ptr<http::Exchange> ex,
                         mesh_http_handler fn, void* user) {
  const std::uint64_t call_id = ids.fetch_add(1);
  RequestView view;
  fill_request(req, call_id, view);
  auto call = std::make_shared<StreamCall>();
  call->ex = ex;
  Ran ran = run_callback("a streamed HTTP handler", [&] {
    {
      std::lock_guard lock(mu);
      stream_calls.emplace(call_id, call);
    }
    fn(user, &view.r);
  });
  if (ran == Ran::no) {
    (void)ex->respond(http::Response::text(503, "plugin " + id + " is stopped\n"));
  } else if (ran == Ran::threw) {
    std::shared_ptr<StreamCall> pending;
    {
      std::lock_guard lock(mu);
      pending = take(stream_calls, call_id);
    }
    if (!pending) return;
    auto resp = http::Response::text(500, "internal error in plugin " + id + "\n");
    if (stream_op(pending, Finish::on_success,
                  [&] { return stream_code(pending->ex->respond(std::move(resp))); }) != MESH_OK)
      abort_stream(pending);
  }
}

// ---- CLI ----

void Runtime::dispatch_cli(control::Call&& call, control::Responder resp, mesh_cli_handler fn,
                           void* user) {
  std::unique_lock lock(mu);
  if (phase != Phase::active || load_locked() >= kMaxPendingCalls) {
    bool busy = phase == Phase::active;
    lock.unlock();
    if (resp.reply) resp.reply({1, "plugin " + id + (busy ? " is busy" : " is stopped")});
    return;
  }
  ++queued;
  asio::post(*executor,
             [self = shared_from_this(), call = std::move(call), resp = std::move(resp), fn,
              user]() mutable { self->run_cli(std::move(call), std::move(resp), fn, user); });
}

void Runtime::run_cli(control::Call&& call, control::Responder resp, mesh_cli_handler fn,
                      void* user) {
  const std::uint64_t call_id = ids.fetch_add(1);
  std::vector<mesh_str> argv;
  argv.reserve(call.args.size());
  for (const auto& a : call.args) argv.push_back(as_str(a));
  mesh_cli_request r{};
  r.struct_size = sizeof r;
  r.json = call.json ? 1u : 0u;
  r.call_id = call_id;
  r.argv = argv.data();
  r.argc = argv.size();
  Ran ran = run_callback("a CLI handler", [&] {
    auto c = std::make_shared<CliCall>();
    c->responder = resp;
    {
      std::lock_guard lock(mu);
      cli_calls.emplace(call_id, std::move(c));
    }
    fn(user, &r);
  });
  if (ran == Ran::no) {
    if (resp.reply) resp.reply({1, "plugin " + id + " is stopped"});
  } else if (ran == Ran::threw) {
    std::shared_ptr<CliCall> pending;
    {
      std::lock_guard lock(mu);
      pending = take(cli_calls, call_id);
    }
    if (pending) {
      std::lock_guard call_lock(pending->mu);
      pending->done = true;
      if (pending->responder.reply) pending->responder.reply({1, "internal error in plugin " + id});
    }
  }
}

// ---- timers ----

// The wait handler runs on the I/O thread and only posts the callback to the executor.
void Runtime::arm_locked(const std::shared_ptr<Timer>& t) {
  t->timer.expires_after(t->interval);
  t->timer.async_wait([weak = weak_from_this(), t](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled
    auto self = weak.lock();
    if (!self) return;
    std::lock_guard lock(self->mu);
    if (self->phase != Phase::active || t->cancelled) return;
    ++self->queued;
    asio::post(*self->executor, [self, t] { self->run_timer(t); });
  });
}

void Runtime::run_timer(const std::shared_ptr<Timer>& t) {
  {
    std::lock_guard lock(mu);
    if (t->cancelled) {
      --queued;
      idle.notify_all();
      return;
    }
  }
  run_callback("a timer", [&] { t->fn(t->user, t->id); });
  std::lock_guard lock(mu);
  if (t->cancelled || phase != Phase::active) return;
  // Fixed delay: the next run is scheduled after this one finished, so runs never pile up.
  if (t->repeat)
    arm_locked(t);
  else
    timers.erase(t->id);
}

// ---- events ----

bool Runtime::deliver_event(const std::shared_ptr<Subscription>& sub, const BusEvent& ev) {
  std::unique_lock lock(mu);
  // "Later" keeps the event for redelivery: a stopped plugin resumes from its cursor.
  if (phase != Phase::active || sub->removed || sub->in_flight) return false;
  if (ev.seq != 0) {
    auto key = std::make_pair(ev.origin_id, ev.seq);
    auto it = std::find_if(sub->late.begin(), sub->late.end(),
                           [&](const auto& entry) { return entry.first == key; });
    if (it != sub->late.end()) {
      bool ok = it->second;
      sub->late.erase(it);
      if (ok) return true;
    }
  }
  if (load_locked() >= kMaxPendingCalls) return false;
  auto d = std::make_shared<Delivery>();
  d->origin = ev.origin_id;
  d->topic = ev.topic;
  d->payload.assign(ev.payload);
  d->seq = ev.seq;
  d->lamport = ev.lamport;
  d->wall_ms = ev.wall_ms;
  ++queued;
  sub->in_flight = true;
  sub->waiting = d;
  asio::post(*executor, [self = shared_from_this(), sub, d] { self->run_event(sub, d); });
  // Removed (unsubscribe, stop) before the handler started: it will not run, so stop waiting.
  // Once it runs, wait for its verdict as usual: an event it handled must be acknowledged, or
  // the restarted plugin would see it again.
  bool finished = d->cv.wait_for(lock, event_timeout, [&] {
    return d->done || (sub->removed && !d->started);
  }) && d->done;
  if (sub->waiting == d) sub->waiting.reset();
  if (finished) return d->ok;
  d->abandoned = true;
  if (sub->removed && !d->started) return false;  // never ran: the cursor stays put
  sub->stalled = true;
  log(spdlog::level::warn,
      fmt::format("event handler of subscription '{}' still runs after {} ms; the event ({} "
                  "#{}) will be offered again",
                  sub->name, event_timeout.count(), d->topic, d->seq));
  return false;
}

void Runtime::run_event(const std::shared_ptr<Subscription>& sub,
                        const std::shared_ptr<Delivery>& d) {
  mesh_event ev{};
  ev.struct_size = sizeof ev;
  ev.flags = d->seq == 0 ? MESH_EVENT_EPHEMERAL : 0u;
  ev.origin = as_str(d->origin);
  ev.seq = d->seq;
  ev.lamport = d->lamport;
  ev.wall_ms = d->wall_ms;
  ev.topic = as_str(d->topic);
  ev.payload = as_str(d->payload);
  bool handled = false;
  Ran ran = run_callback("an event handler", [&] {
    {
      std::lock_guard lock(mu);
      if (sub->removed) return;  // unsubscribed while queued: not handled
      d->started = true;
    }
    handled = sub->fn(sub->user, &ev) == MESH_OK;
  });
  std::lock_guard lock(mu);
  sub->in_flight = false;
  sub->stalled = false;
  d->done = true;
  d->ok = ran == Ran::ok && handled;
  if (d->abandoned && d->ok && d->seq != 0) {
    if (sub->late.size() >= kMaxLateVerdicts) sub->late.pop_front();
    sub->late.emplace_back(std::make_pair(d->origin, d->seq), true);
  }
  d->cv.notify_all();
}

}  // namespace mesh::plugin
