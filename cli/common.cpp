#include <cstdio>
#include <iostream>

#include "cli.hpp"
#include "mesh/app/app.hpp"
#include "mesh/identity/identity.hpp"

namespace mesh::cli {
namespace json = boost::json;

int error(const std::string& message, int code) {
  std::string text = message;
  while (!text.empty() && text.back() == '\n') text.pop_back();
  std::fprintf(stderr, "error: %s\n", text.c_str());
  return code;
}

void print_json(const json::value& v) {
  std::cout << json::serialize(v) << "\n";
}

bool call_daemon(const Globals& g, const std::string& verb, const std::vector<std::string>& args,
                 bool json_out, control::Reply* reply, int* exit_code,
                 const std::function<void(const std::string&)>& on_chunk) {
  control::Call call{verb, args, json_out};
  auto r = control::call(app::socket_path(g.root), call, std::chrono::seconds(60), on_chunk);
  if (!r) {
    if (r.error().code == Errc::not_found) {
      *exit_code = error("the mesh daemon is not running (start it with: mesh start)");
    } else {
      *exit_code = error("cannot reach the mesh daemon: " + r.error().message);
    }
    return false;
  }
  *reply = std::move(*r);
  return true;
}

bool parse_reply(const control::Reply& reply, json::value* out) {
  boost::system::error_code ec;
  *out = json::parse(reply.output, ec);
  if (ec) {
    error("the daemon sent a malformed answer: " + ec.message());
    return false;
  }
  return true;
}

std::string str(const json::value& v, std::string_view key) {
  if (!v.is_object()) return {};
  const auto* p = v.as_object().if_contains(key);
  if (!p) return {};
  if (p->is_string()) return std::string(p->as_string());
  if (p->is_bool()) return p->as_bool() ? "yes" : "no";
  if (p->is_null()) return {};
  return json::serialize(*p);
}

Result<std::string> identity_of(const std::filesystem::path& root) {
  auto id = identity::Identity::load(root);
  if (!id) return id.error();
  return id->id();
}

}  // namespace mesh::cli
