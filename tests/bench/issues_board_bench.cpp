// Rendering the issues board page (issue #14, goal p50 < 50 ms): GET /repos/app/issues for a
// repo of 500 issues (labels, assignees, comments, a few closed), through the plugin's own
// request handling (WebBoard: the page models, the columns fragment, the page) and the
// daemon's template engine (mesh::web::render_json, what the host's ui_render runs), against
// the baseline of the same request for an empty board measured in the same run. Each figure
// is the p50 and p95 of 200 requests, in wall time and in this thread's CPU time (what the
// request costs, whatever the machine's load). Nothing here asserts a time: the bench fails only if
// a page is wrong.
#include <sodium.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "actions.hpp"
#include "ids.hpp"
#include "mesh/web/markdown.hpp"
#include "mesh/web/render.hpp"
#include "order_key.hpp"
#include "service.hpp"
#include "web_board.hpp"

using namespace mesh::issues;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kIssues = 500;
constexpr int kRequests = 200;
const char* const kLabels[] = {"bug", "ui", "P1", "P2", "good first issue", "docs"};

// What the host's ui_render and markdown_render do (core/web), with the "mesh" object.
class HostRenderer final : public Renderer {
 public:
  bool render(std::string_view tmpl, const std::string& context_json, std::string* out,
              std::string* error) override {
    auto ctx = mesh::web::parse_context(context_json);
    if (!ctx) return *error = ctx.error().message, false;
    (*ctx)["mesh"] = boost::json::object{
        {"csrf", "token"}, {"node", "alice"}, {"id", "mesh:alice"}, {"version", "0.1.0"}};
    auto r = mesh::web::render(tmpl, *ctx);
    if (!r) return *error = r.error().message, false;
    *out = std::move(*r);
    return true;
  }
  bool markdown(std::string_view text, std::string_view base, std::string* out) override {
    mesh::web::MarkdownOptions o;
    o.link_base = o.image_base = std::string(base);
    auto r = mesh::web::markdown_to_html(text, o);
    if (!r) return false;
    *out = std::move(*r);
    return true;
  }
};

struct Feed {
  std::string origin;
  std::uint64_t seq = 0;
  std::uint64_t lamport = 0;
};

// A service whose board holds `issues` issues of repo "app", fed as a node's events.
struct Setup {
  ServiceHooks hooks;
  std::unique_ptr<Service> service;
  std::unique_ptr<Actions> actions;
  HostRenderer renderer;
  std::unique_ptr<WebBoard> web;

  explicit Setup(std::size_t issues) {
    hooks.members = [] { return std::optional<std::vector<Member>>(); };
    service = std::make_unique<Service>(hooks, "mesh:alice", system_random());
    actions = std::make_unique<Actions>(*service, [](const std::string&) { return true; });
    web = std::make_unique<WebBoard>(*service, *actions, renderer);
    Feed feeds[] = {{"mesh:alice"}, {"mesh:bob"}, {"mesh:carol"}};
    std::uint64_t clock = 0;
    auto publish = [&](Feed& f, const Op& op) {
      std::string payload = encode_op(op);
      ++f.seq;
      EventIn e{f.origin, f.seq, ++clock, 1'700'000'000'000 + clock, payload};
      if (!service->on_event(e)) std::fprintf(stderr, "event deferred\n"), std::exit(1);
      return op_id(f.origin, f.seq);
    };
    Random random = system_random();
    std::string last_key;
    for (std::size_t i = 0; i < issues; ++i) {
      Feed& f = feeds[i % 3];
      Op c;
      c.kind = Kind::create;
      c.repo = "app";
      c.num = i + 1;
      c.title = "Issue " + std::to_string(i + 1) + ": the board keeps every card in order";
      c.body = "Steps:\n\n1. open the board\n2. drag a card\n\nExpected **no** surprises.";
      c.order = last_key = *key_between(last_key, "", random);
      c.labels = {kLabels[i % 6]};
      if (i % 4 == 0) c.labels.push_back(kLabels[(i + 1) % 6]);
      std::string id = publish(f, c);
      Op a;
      a.repo = "app";
      a.issue = id;
      for (std::size_t k = 0; k < i % 3; ++k) {
        a.kind = Kind::comment;
        a.body = "A comment with `code` and a [link](docs/x.md).";
        publish(feeds[(i + k + 1) % 3], a);
      }
      if (i % 5 == 0) {
        a.kind = Kind::assign;
        a.value = i % 2 ? "bob" : "carol";
        publish(f, a);
      }
      if (i % 7 == 0) {
        a.kind = Kind::set_state;
        a.state = State::closed;
        publish(f, a);
      }
    }
  }
};

double cpu_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1000.0 + static_cast<double>(ts.tv_nsec) / 1e6;
}

struct Figures {
  double p50 = 0, p95 = 0, cpu50 = 0, cpu95 = 0;
  std::size_t bytes = 0, cards = 0;
};

Figures measure(Setup& s) {
  std::vector<double> ms, cpu;
  Figures f;
  for (int i = 0; i < kRequests; ++i) {
    auto t0 = Clock::now();
    double c0 = cpu_ms();
    WebResponse r = s.web->handle(WebRequest{"GET", "app", "", "", "", "", ""});
    cpu.push_back(cpu_ms() - c0);
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    if (r.status != 200 || !r.page) {
      std::fprintf(stderr, "the board answered %u: %s\n", r.status, r.body.c_str());
      std::exit(1);
    }
    f.bytes = r.body_html.size();
    f.cards = 0;
    for (auto at = r.body_html.find("<li class=\"issues-card\""); at != std::string::npos;
         at = r.body_html.find("<li class=\"issues-card\"", at + 1)) {
      ++f.cards;
    }
  }
  std::sort(ms.begin(), ms.end());
  std::sort(cpu.begin(), cpu.end());
  f.p50 = ms[ms.size() / 2];
  f.p95 = ms[ms.size() * 95 / 100];
  f.cpu50 = cpu[cpu.size() / 2];
  f.cpu95 = cpu[cpu.size() * 95 / 100];
  return f;
}

}  // namespace

int main() {
  if (sodium_init() < 0) return 1;
  Setup empty(0);
  Setup full(kIssues);
  Figures base = measure(empty);
  Figures board = measure(full);
  int status = 0;
  if (base.cards != 0 || board.cards != kIssues) {
    std::fprintf(stderr, "wrong page: %zu cards on the empty board, %zu of %zu on the full one\n",
                 base.cards, board.cards, kIssues);
    status = 1;
  }
  std::printf(
      "bench issues-board: GET /repos/app/issues, %d requests each (page body without the "
      "layout)\n"
      "  baseline empty board  p50 %7.2f ms  p95 %7.2f ms  (cpu p50 %7.2f p95 %7.2f)  %zu bytes\n"
      "  board of %zu issues   p50 %7.2f ms  p95 %7.2f ms  (cpu p50 %7.2f p95 %7.2f)  %zu bytes, "
      "%zu cards  | ratio p50 %.1f (cpu %.1f) to the baseline  (goal p50 < 50 ms)\n",
      kRequests, base.p50, base.p95, base.cpu50, base.cpu95, base.bytes, kIssues, board.p50,
      board.p95, board.cpu50, board.cpu95, board.bytes, board.cards, board.p50 / base.p50,
      board.cpu50 / base.cpu50);
  return status;
}
