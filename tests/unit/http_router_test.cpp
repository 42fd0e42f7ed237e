#include <gtest/gtest.h>

#include <thread>

#include "mesh/http/router.hpp"

using namespace mesh::http;

namespace {

// A handler that answers with its own name, so tests can tell which route matched.
Handler named(std::string name) {
  return [name](Request&&, Responder respond) { respond(Response::text(200, name)); };
}

std::string which(const Router& router, std::string_view method, std::string_view path) {
  auto found = router.find(method, path);
  if (auto* miss = std::get_if<Router::Miss>(&found)) {
    return *miss == Router::Miss::not_found ? "404" : "405";
  }
  std::string got;
  std::get<Router::Match>(found).handler(Request{}, [&](Response r) { got = r.body; });
  return got;
}

}  // namespace

TEST(HttpRouter, PrefixMatchesWholeSegmentsOnly) {
  Router r;
  r.add("GET", "/repos", {}, named("repos"));
  EXPECT_EQ(which(r, "GET", "/repos"), "repos");
  EXPECT_EQ(which(r, "GET", "/repos/"), "repos");
  EXPECT_EQ(which(r, "GET", "/repos/a/b"), "repos");
  EXPECT_EQ(which(r, "GET", "/reposx"), "404");
  EXPECT_EQ(which(r, "GET", "/"), "404");
  EXPECT_EQ(which(r, "GET", "/rep"), "404");
}

TEST(HttpRouter, LongestPrefixWins) {
  Router r;
  r.add("GET", "/", {}, named("root"));
  r.add("GET", "/repos", {}, named("repos"));
  r.add("GET", "/repos/x/issues", {}, named("issues"));
  EXPECT_EQ(which(r, "GET", "/"), "root");
  EXPECT_EQ(which(r, "GET", "/anything/else"), "root");
  EXPECT_EQ(which(r, "GET", "/repos/x"), "repos");
  EXPECT_EQ(which(r, "GET", "/repos/x/issues"), "issues");
  EXPECT_EQ(which(r, "GET", "/repos/x/issues/7"), "issues");
  EXPECT_EQ(which(r, "GET", "/repos/x/issuesy"), "repos");
}

TEST(HttpRouter, MethodMismatchIs405AndStarMatchesAny) {
  Router r;
  r.add("GET", "/a", {}, named("get-a"));
  r.add("*", "/b", {}, named("any-b"));
  r.add("POST", "/b", {}, named("post-b"));
  EXPECT_EQ(which(r, "POST", "/a"), "405");
  EXPECT_EQ(which(r, "DELETE", "/a/x"), "405");
  EXPECT_EQ(which(r, "GET", "/zzz"), "404");
  EXPECT_EQ(which(r, "PUT", "/b"), "any-b");
  EXPECT_EQ(which(r, "POST", "/b"), "post-b");  // an exact method beats "*" on the same prefix
  // Methods are case-sensitive (RFC 9110).
  EXPECT_EQ(which(r, "get", "/a"), "405");
}

TEST(HttpRouter, ShorterPrefixServesMethodsALongerOneLacks) {
  Router r;
  r.add("GET", "/repos", {}, named("ui"));
  r.add("POST", "/repos/x", {}, named("push"));
  EXPECT_EQ(which(r, "POST", "/repos/x"), "push");
  EXPECT_EQ(which(r, "GET", "/repos/x"), "ui");
  EXPECT_EQ(which(r, "DELETE", "/repos/x"), "405");
}

TEST(HttpRouter, TryAddRefusesDuplicatesAndRemoveWorks) {
  Router r;
  RouteId id = 0;
  ASSERT_TRUE(r.try_add("GET", "/a", {}, named("one"), &id));
  RouteId other = 0;
  EXPECT_FALSE(r.try_add("GET", "/a", {}, named("two"), &other));
  EXPECT_EQ(which(r, "GET", "/a"), "one");
  EXPECT_TRUE(r.try_add("POST", "/a", {}, named("post"), &other));
  EXPECT_NE(id, other);
  r.remove(id);
  EXPECT_EQ(which(r, "GET", "/a"), "405");
  r.remove(other);
  EXPECT_EQ(which(r, "GET", "/a"), "404");
  r.remove(12345);  // unknown ids are ignored
}

TEST(HttpRouter, AddReplacesTheSameMethodAndPrefix) {
  Router r;
  auto first = r.add("GET", "/a", {}, named("one"));
  auto second = r.add("GET", "/a", {}, named("two"));
  EXPECT_NE(first, second);
  EXPECT_EQ(which(r, "GET", "/a"), "two");
  r.remove(first);  // the replaced route's id no longer removes anything
  EXPECT_EQ(which(r, "GET", "/a"), "two");
}

TEST(HttpRouter, FindReturnsTheRouteOptions) {
  Router r;
  r.add("POST", "/upload", RouteOptions{.max_body = 42, .access = Access::local}, named("u"));
  auto found = r.find("POST", "/upload/x");
  ASSERT_TRUE(std::holds_alternative<Router::Match>(found));
  auto& m = std::get<Router::Match>(found);
  EXPECT_EQ(m.options.max_body, 42u);
  EXPECT_EQ(m.options.access, Access::local);
}

TEST(HttpRouter, ConcurrentAddFindRemove) {
  Router r;
  r.add("GET", "/", {}, named("root"));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&r, t] {
      for (int i = 0; i < 500; ++i) {
        auto prefix = "/t" + std::to_string(t) + "/" + std::to_string(i);
        auto id = r.add("GET", prefix, {}, named(prefix));
        EXPECT_EQ(which(r, "GET", prefix + "/x"), prefix);
        r.remove(id);
        EXPECT_EQ(which(r, "GET", prefix), "root");
      }
    });
  }
  for (auto& th : threads) th.join();
}

TEST(HttpRequest, HeaderLookupIsCaseInsensitive) {
  Request req;
  req.headers = {{"Content-Type", "text/plain"}, {"X-Thing", "1"}, {"x-thing", "2"}};
  EXPECT_EQ(req.header("content-type"), "text/plain");
  EXPECT_EQ(req.header("CONTENT-TYPE"), "text/plain");
  EXPECT_EQ(req.header("x-THING"), "1");  // the first one wins
  EXPECT_EQ(req.header("missing"), "");
}

TEST(HttpResponse, TextAndJsonSetContentType) {
  auto t = Response::text(404, "nope\n");
  EXPECT_EQ(t.status, 404u);
  EXPECT_EQ(t.body, "nope\n");
  ASSERT_EQ(t.headers.size(), 1u);
  EXPECT_EQ(t.headers[0].first, "Content-Type");
  EXPECT_TRUE(t.headers[0].second.starts_with("text/plain"));
  auto j = Response::json(201, "{}");
  EXPECT_EQ(j.status, 201u);
  EXPECT_EQ(j.headers[0].second, "application/json");
}

TEST(HttpRouter, ExactRouteOnlyTakesItsOwnPathAndBeatsAPrefixRoute) {
  Router r;
  RouteOptions exact;
  exact.exact = true;
  r.add("GET", "/", exact, named("page"));
  EXPECT_EQ(which(r, "GET", "/"), "page");
  EXPECT_EQ(which(r, "GET", "/x.git/info/refs"), "404");
  // A catch-all prefix route on the same method and prefix coexists with it.
  RouteId id = 0;
  ASSERT_TRUE(r.try_add("GET", "/", {}, named("git"), &id));
  EXPECT_FALSE(r.try_add("GET", "/", exact, named("again"), nullptr));
  EXPECT_EQ(which(r, "GET", "/"), "page");
  EXPECT_EQ(which(r, "GET", "/x.git/info/refs"), "git");
  r.remove(id);
  EXPECT_EQ(which(r, "GET", "/x.git/info/refs"), "404");
}

TEST(HttpRouter, StreamRoutesAreFoundWithTheirStreamHandler) {
  Router r;
  ASSERT_TRUE(r.try_add_stream(
      "POST", "/up", {}, [](Request&&, std::shared_ptr<Exchange>) {}, nullptr));
  EXPECT_FALSE(r.try_add("POST", "/up", {}, named("dup"), nullptr));
  auto found = r.find("POST", "/up/a");
  auto* m = std::get_if<Router::Match>(&found);
  ASSERT_NE(m, nullptr);
  EXPECT_TRUE(m->stream);
  EXPECT_FALSE(m->handler);
}

namespace {

// The params of the route that matched, as "name=value;" pairs, or the miss.
std::string params(const Router& router, std::string_view method, std::string_view path) {
  auto found = router.find(method, path);
  if (auto* miss = std::get_if<Router::Miss>(&found)) {
    return *miss == Router::Miss::not_found            ? "404"
           : *miss == Router::Miss::method_not_allowed ? "405"
                                                       : "400";
  }
  std::string out;
  for (const auto& [k, v] : std::get<Router::Match>(found).params) out += k + "=" + v + ";";
  return out;
}

}  // namespace

TEST(HttpRouterPatterns, CapturesMatchWholeNonEmptySegmentsExactly) {
  Router r;
  r.add("GET", "/repos/{repo}/ci/{run}", {}, named("run"));
  EXPECT_EQ(which(r, "GET", "/repos/app/ci/42"), "run");
  EXPECT_EQ(params(r, "GET", "/repos/app/ci/42"), "repo=app;run=42;");
  // Exact, not a prefix: one segment more or less does not match.
  EXPECT_EQ(which(r, "GET", "/repos/app/ci/42/log"), "404");
  EXPECT_EQ(which(r, "GET", "/repos/app/ci"), "404");
  // A capture needs a non-empty segment, and literals must match as received.
  EXPECT_EQ(which(r, "GET", "/repos//ci/42"), "404");
  EXPECT_EQ(which(r, "GET", "/repos/app/cix/42"), "404");
  EXPECT_EQ(which(r, "GET", "/repos/app/%63i/42"), "404");
  EXPECT_EQ(which(r, "POST", "/repos/app/ci/42"), "405");
}

TEST(HttpRouterPatterns, TailCapturesTheRestOfThePath) {
  Router r;
  r.add("GET", "/files/{repo}/{path...}", {}, named("file"));
  EXPECT_EQ(params(r, "GET", "/files/app/src/main.cpp"), "repo=app;path=src/main.cpp;");
  EXPECT_EQ(params(r, "GET", "/files/app/README"), "repo=app;path=README;");
  EXPECT_EQ(params(r, "GET", "/files/app/dir/"), "repo=app;path=dir/;");
  // One or more segments: nothing after the repo is not a match.
  EXPECT_EQ(which(r, "GET", "/files/app"), "404");
  EXPECT_EQ(which(r, "GET", "/files/app/"), "404");
}

TEST(HttpRouterPatterns, CapturesArePercentDecoded) {
  Router r;
  r.add("GET", "/repos/{repo}", {}, named("repo"));
  r.add("GET", "/raw/{path...}", {}, named("raw"));
  // %2F inside a capture is data, not a separator: it still matches one segment.
  EXPECT_EQ(params(r, "GET", "/repos/a%2Fb"), "repo=a/b;");
  EXPECT_EQ(params(r, "GET", "/repos/caf%C3%A9%20x"), "repo=café x;");
  EXPECT_EQ(params(r, "GET", "/repos/a+b"), "repo=a+b;");  // '+' is a space in forms only
  EXPECT_EQ(params(r, "GET", "/raw/a%2Fb/c"), "path=a/b/c;");
  // Bad escapes and a decoded NUL are a bad request, not a guess.
  EXPECT_EQ(params(r, "GET", "/repos/%zz"), "400");
  EXPECT_EQ(params(r, "GET", "/repos/a%4"), "400");
  EXPECT_EQ(params(r, "GET", "/repos/a%00b"), "400");
  EXPECT_EQ(params(r, "GET", "/raw/x/%G1"), "400");
}

TEST(HttpRouterPatterns, LiteralBeatsCaptureBeatsTailBeatsPrefix) {
  Router r;
  r.add("GET", "/", {}, named("catch-all"));
  r.add("GET", "/repos", {}, named("repos-prefix"));
  r.add("GET", "/repos/{repo}/{rest...}", {}, named("tail"));
  r.add("GET", "/repos/{repo}/{tab}", {}, named("tab"));
  r.add("GET", "/repos/{repo}/ci", {}, named("ci"));
  r.add("GET", "/repos/{repo}/ci/{run}", {}, named("run"));
  r.add("GET", "/repos/special/ci", {}, named("special-ci"));
  EXPECT_EQ(which(r, "GET", "/repos/app/ci"), "ci");              // literal beats capture
  EXPECT_EQ(which(r, "GET", "/repos/special/ci"), "special-ci");  // ... at the first difference
  EXPECT_EQ(which(r, "GET", "/repos/app/issues"), "tab");         // capture beats tail
  EXPECT_EQ(which(r, "GET", "/repos/app/ci/7"), "run");
  EXPECT_EQ(which(r, "GET", "/repos/app/a/b/c"), "tail");  // tail beats what a prefix covers
  EXPECT_EQ(which(r, "GET", "/repos/app"), "repos-prefix");
  EXPECT_EQ(which(r, "GET", "/repos"), "repos-prefix");
  EXPECT_EQ(which(r, "GET", "/other"), "catch-all");
  // A longer literal prefix still beats a pattern that captures where it has a literal.
  r.add("GET", "/repos/app", {}, named("app-prefix"));
  EXPECT_EQ(which(r, "GET", "/repos/app/issues"), "app-prefix");
  EXPECT_EQ(which(r, "GET", "/repos/other/issues"), "tab");
}

TEST(HttpRouterPatterns, MethodStillSelectsAmongMatchingRoutes) {
  Router r;
  r.add("GET", "/repos", {}, named("ui"));
  r.add("POST", "/repos/{repo}/ci/{run}/cancel", {}, named("cancel"));
  r.add("*", "/repos/{repo}/hooks", {}, named("any"));
  EXPECT_EQ(which(r, "POST", "/repos/a/ci/1/cancel"), "cancel");
  EXPECT_EQ(which(r, "GET", "/repos/a/ci/1/cancel"), "ui");  // the prefix route serves GET
  EXPECT_EQ(which(r, "DELETE", "/repos/a/ci/1/cancel"), "405");
  EXPECT_EQ(which(r, "PUT", "/repos/a/hooks"), "any");
}

TEST(HttpRouterPatterns, SameShapeConflictsAndNamesTheOwner) {
  Router r;
  RouteOptions ci;
  ci.owner = "plugin ci";
  RouteId id = 0;
  ASSERT_TRUE(r.try_add("GET", "/repos/{repo}/ci/{run}", ci, named("ci"), &id));
  RouteOptions other;
  other.owner = "plugin other";
  RouteError err;
  EXPECT_FALSE(r.try_add("GET", "/repos/{name}/ci/{id}", other, named("x"), nullptr, &err));
  EXPECT_EQ(err.kind, RouteError::Kind::conflict);
  EXPECT_EQ(err.owner, "plugin ci");
  EXPECT_NE(err.message.find("plugin ci"), std::string::npos) << err.message;
  EXPECT_EQ(r.conflicting_owner("GET", "/repos/{a}/ci/{b}", other), "plugin ci");
  EXPECT_FALSE(r.try_add_stream(
      "GET", "/repos/{r}/ci/{n}", other, [](Request&&, std::shared_ptr<Exchange>) {}, nullptr,
      &err));
  EXPECT_EQ(err.owner, "plugin ci");
  // Another method, another literal, or capture versus tail: no conflict.
  EXPECT_TRUE(r.try_add("POST", "/repos/{repo}/ci/{run}", other, named("p"), nullptr));
  EXPECT_TRUE(r.try_add("GET", "/repos/{repo}/cd/{run}", other, named("cd"), nullptr));
  EXPECT_TRUE(r.try_add("GET", "/repos/{repo}/ci/{run...}", other, named("t"), nullptr));
  EXPECT_FALSE(r.conflicting_owner("GET", "/repos/{repo}/issues", other));
  // Plain paths: the same path conflicts (a trailing '/' is the same path), exact and prefix
  // routes of one path do not.
  ASSERT_TRUE(r.try_add("GET", "/status", {}, named("s"), nullptr));
  EXPECT_FALSE(r.try_add("GET", "/status/", other, named("s2"), nullptr, &err));
  EXPECT_EQ(err.owner, "core");
  RouteOptions exact;
  exact.exact = true;
  EXPECT_TRUE(r.try_add("GET", "/status", exact, named("s3"), nullptr));
  // Once removed, the shape is free again.
  r.remove(id);
  EXPECT_TRUE(r.try_add("GET", "/repos/{name}/ci/{id}", other, named("x"), nullptr));
  EXPECT_EQ(which(r, "GET", "/repos/a/ci/1"), "x");
}

TEST(HttpRouterPatterns, InvalidPatternsAreRefused) {
  Router r;
  for (const char* bad : {"/repos/x{repo}", "/repos/{repo", "/repos/{}", "/a/{rest...}/b",
                          "/a/{1x}", "/a/{x}/{x}", "/a/{x-y}", "repos/{x}", "/a/{x}}"}) {
    RouteError err;
    EXPECT_FALSE(r.try_add("GET", bad, {}, named("bad"), nullptr, &err)) << bad;
    EXPECT_EQ(err.kind, RouteError::Kind::invalid) << bad;
    EXPECT_FALSE(err.message.empty()) << bad;
    EXPECT_EQ(r.add("GET", bad, {}, named("bad")), 0u) << bad;
  }
  EXPECT_EQ(which(r, "GET", "/repos/x"), "404");
}

TEST(HttpRouterPatterns, AddReplacesTheSameShape) {
  Router r;
  r.add("GET", "/repos/{repo}", {}, named("one"));
  r.add("GET", "/repos/{name}", {}, named("two"));
  EXPECT_EQ(which(r, "GET", "/repos/x"), "two");
  EXPECT_EQ(params(r, "GET", "/repos/x"), "name=x;");
}
