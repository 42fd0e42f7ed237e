// secrets.yml (yaml-cpp) and the job environment (secrets.hpp).
#include "mesh/jobs/secrets.hpp"

#include <sys/stat.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <vector>

#include "job_limits.hpp"

namespace mesh::jobs {
namespace {

// Where YAML documents start, nothing else (no nodes are built).
struct DocumentStarts : YAML::EventHandler {
  std::vector<YAML::Mark> marks;
  void OnDocumentStart(const YAML::Mark& m) override { marks.push_back(m); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

// Expands ${NAME}; on a problem returns "" and sets *why.
std::string expand(std::string_view value, const EnvLookup& env, std::string* why) {
  std::string out;
  for (std::size_t i = 0; i < value.size();) {
    if (value.compare(i, 3, "$${") == 0) {
      out += "${";
      i += 3;
      continue;
    }
    if (value.compare(i, 2, "${") != 0) {
      out += value[i++];
      continue;
    }
    std::size_t close = value.find('}', i + 2);
    if (close == std::string_view::npos) {
      *why = "'${' without a closing '}'";
      return {};
    }
    std::string_view name = value.substr(i + 2, close - i - 2);
    if (!valid_env_name(name)) {
      *why = "'${" + std::string(name.substr(0, 64)) + "}' is not a variable name";
      return {};
    }
    auto v = env ? env(name) : std::nullopt;
    if (!v) {
      *why = "${" + std::string(name) + "} is not set in the daemon's environment";
      return {};
    }
    out += *v;
    i = close + 1;
    if (out.size() > kMaxSecretBytes) break;
  }
  if (out.size() > kMaxSecretBytes) {
    *why = "longer than 16 KiB after expanding ${...}";
    return {};
  }
  return out;
}

std::string where(std::string_view source, const YAML::Mark& m) {
  std::string out(source);
  if (m.line >= 0) out += ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
  return out + ": ";
}

std::string shown(const std::string& s) {
  std::string out;
  for (char c : s.substr(0, 64)) out += (static_cast<unsigned char>(c) < 0x20 ? '?' : c);
  return out;
}

}  // namespace

EnvLookup process_environment() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* v = std::getenv(std::string(name).c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

bool valid_secret_name(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'A' && c <= 'Z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

Result<Secrets> parse_secrets(std::string_view text, const EnvLookup& env,
                              std::string_view source) {
  if (text.size() > kMaxSecretsFileBytes)
    return make_error(Errc::limit, std::string(source) + ": larger than 1 MiB");
  auto bad = [&](const YAML::Mark& m, const std::string& what) {
    return make_error(Errc::invalid, where(source, m) + what);
  };
  Secrets out;
  try {
    // Not YAML::LoadAll: yaml-cpp 0.7 makes empty documents forever after a stray ',' (the CI
    // plugin's pipeline loader found it by fuzzing). Ask for at most two documents instead.
    {
      std::istringstream in{std::string(text)};
      YAML::Parser parser(in);
      DocumentStarts starts;
      for (int i = 0; i < 2 && parser.HandleNextDocument(starts); ++i) {
      }
      if (starts.marks.size() > 1) {
        return bad(starts.marks[1], starts.marks[1].pos == starts.marks[0].pos
                                        ? "YAML syntax: unexpected text (a stray ','?)"
                                        : "more than one YAML document");
      }
    }
    const YAML::Node root = YAML::Load(std::string(text));
    if (root.IsNull()) return out;
    if (!root.IsMap()) return bad(root.Mark(), "expected a map with the key 'secrets'");
    for (auto top = root.begin(); top != root.end(); ++top) {
      std::string key = top->first.IsScalar() ? top->first.Scalar() : std::string();
      if (key != "secrets")
        return bad(top->first.Mark(), "unknown key '" + shown(key) + "' (expected 'secrets')");
      const YAML::Node map = top->second;  // a copy: the iterator yields temporaries
      if (map.IsNull()) continue;
      if (!map.IsMap()) return bad(map.Mark(), "secrets: expected a map of NAME: value");
      std::set<std::string> seen;
      for (auto it = map.begin(); it != map.end(); ++it) {
        const YAML::Node k = it->first;
        const YAML::Node v = it->second;
        std::string name = k.IsScalar() ? k.Scalar() : std::string();
        if (!valid_secret_name(name))
          return bad(k.Mark(), "secrets: '" + shown(name) +
                                   "' is not a secret name ([A-Z_][A-Z0-9_]*, 1-64)");
        if (!seen.insert(name).second)
          return bad(k.Mark(), "secrets: " + name + " is defined twice");
        if (seen.size() > kMaxSecretsInFile)
          return bad(k.Mark(), "secrets: more than " + std::to_string(kMaxSecretsInFile));
        if (!v.IsScalar()) return bad(k.Mark(), "secrets." + name + ": expected a string");
        const std::string& raw = v.Scalar();
        if (raw.size() > kMaxSecretBytes)
          return bad(v.Mark(), "secrets." + name + ": longer than 16 KiB");
        Secret s;
        std::string why;
        s.value = expand(raw, env, &why);
        if (!why.empty()) {
          s.value.clear();
          s.unavailable = "secret " + name + " in secrets.yml: " + why;
        }
        out.emplace(name, std::move(s));
      }
    }
  } catch (const YAML::Exception& e) {
    return bad(e.mark, e.msg);
  } catch (const std::exception& e) {
    return make_error(Errc::internal, std::string(source) + ": " + e.what());
  }
  return out;
}

Result<Secrets> load_secrets_file(const std::filesystem::path& path, const EnvLookup& env) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Secrets{};
    return make_error(Errc::io, path.string() + ": cannot read it");
  }
  if (!S_ISREG(st.st_mode))
    return make_error(Errc::invalid, path.string() + ": not a regular file");
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return make_error(Errc::invalid, path.string() + " is readable by others (mode " + mode +
                                         "): chmod 600 " + path.string());
  }
  if (static_cast<std::uint64_t>(st.st_size) > kMaxSecretsFileBytes)
    return make_error(Errc::limit, path.string() + ": larger than 1 MiB");
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(Errc::io, path.string() + ": cannot open it");
  std::string text(static_cast<std::size_t>(st.st_size), '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  return parse_secrets(text, env, path.filename().string());
}

std::vector<std::pair<std::string, std::string>> job_environment(
    const std::vector<std::pair<std::string, std::string>>& job_env,
    const std::vector<std::string>& passthrough, const EnvLookup& daemon_env) {
  std::map<std::string, std::string> env;
  auto get = [&](std::string_view n) { return daemon_env ? daemon_env(n) : std::nullopt; };
  env["PATH"] = get("PATH").value_or("/usr/local/bin:/usr/bin:/bin");
  env["LANG"] = get("LANG").value_or("C.UTF-8");
  if (auto home = get("HOME")) env["HOME"] = *home;
  for (const auto& name : passthrough)
    if (auto v = get(name)) env[name] = *v;
  for (const auto& [n, v] : job_env) env[n] = v;
  return {env.begin(), env.end()};
}

}  // namespace mesh::jobs
