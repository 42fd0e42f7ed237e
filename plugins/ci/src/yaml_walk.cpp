#include "yaml_walk.hpp"

#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <map>
#include <sstream>

namespace mesh::ci {
namespace {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string shown(std::string_view s) {
  std::string out;
  for (unsigned char c : s.substr(0, 48))
    out += (c < 0x20 || c == 0x7f) ? '?' : static_cast<char>(c);
  if (s.size() > 48) out += "…";
  return out;
}

const char* type_name(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a string";
    case YAML::NodeType::Null:
      return "nothing";
    default:
      return "an undefined value";
  }
}

}  // namespace

void Diagnostics::add(const YAML::Mark& mark, std::string message) {
  if (full()) {
    ++dropped_;
    return;
  }
  Diagnostic d;
  if (!mark.is_null()) {
    d.line = mark.line + 1;
    d.column = mark.column + 1;
  }
  d.message = std::move(message);
  list_.push_back(std::move(d));
}

std::vector<Diagnostic> Diagnostics::sorted() const {
  auto out = list_;
  std::stable_sort(out.begin(), out.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::pair(a.line, a.column) < std::pair(b.line, b.column);
  });
  return out;
}

std::string Diagnostics::text(std::string_view file) const {
  std::string out;
  for (const auto& d : sorted()) {
    if (!out.empty()) out += '\n';
    out += file;
    if (d.line > 0) out += ":" + std::to_string(d.line) + ":" + std::to_string(d.column);
    out += ": " + d.message;
  }
  if (dropped_ > 0) out += "\n(" + std::to_string(dropped_) + " more errors not shown)";
  return out;
}

namespace {

// Sees only where documents start: enough to count them without building nodes.
class DocumentCounter : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> starts;
  void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
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

}  // namespace

std::optional<YAML::Node> load_single_document(std::string_view text, Diagnostics& diags) {
  try {
    // Never YAML::LoadAll: in yaml-cpp 0.7 a stray token (",") makes it produce empty documents
    // forever, allocating until the process dies (fixed upstream in 0.8.x, jbeder/yaml-cpp#1319).
    // Ask the parser for at most two documents instead.
    std::istringstream in{std::string(text)};
    YAML::Parser parser(in);
    DocumentCounter counter;
    for (int i = 0; i < 2 && parser.HandleNextDocument(counter); ++i) {
    }
    if (counter.starts.size() > 1) {
      const YAML::Mark& second = counter.starts[1];
      bool stuck = second.pos == counter.starts[0].pos;  // the 0.7 bug: no progress
      diags.add(second, stuck ? "YAML syntax: unexpected text (a stray ',' or flow token?)"
                              : "more than one YAML document ('---'): write one");
      return std::nullopt;
    }
    return YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    diags.add(e.mark, "YAML syntax: " + e.msg);
  } catch (const std::exception& e) {
    diags.add(YAML::Mark::null_mark(), std::string("YAML: ") + e.what());
  }
  return std::nullopt;
}

YAML::Mark mark_of(const YAML::Node& node, const YAML::Mark& fallback) {
  if (!node.IsDefined() || node.IsNull()) return fallback;
  auto m = node.Mark();
  return m.is_null() ? fallback : m;
}

bool YamlWalker::visit(const YAML::Node& node, std::size_t depth) {
  if (exhausted_) return false;
  if (++visited_ > max_nodes_) {
    exhausted_ = true;
    error(node.Mark(), "too many YAML nodes (more than " + std::to_string(max_nodes_) +
                           ", aliases counted each time they are used)");
    return false;
  }
  if (depth > max_depth_) {
    exhausted_ = true;
    error(node.Mark(), "nested deeper than " + std::to_string(max_depth_) + " levels");
    return false;
  }
  return true;
}

std::optional<std::string> YamlWalker::string(const YAML::Node& node, const YAML::Mark& at,
                                              std::string_view what) {
  if (!node.IsScalar()) {
    error(mark_of(node, at), std::string(what) + ": expected a string, got " + type_name(node));
    return std::nullopt;
  }
  return node.Scalar();
}

std::optional<bool> YamlWalker::boolean(const YAML::Node& node, const YAML::Mark& at,
                                        std::string_view what) {
  if (node.IsScalar()) {
    const auto& s = node.Scalar();
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
  }
  error(mark_of(node, at), std::string(what) + ": expected true or false");
  return std::nullopt;
}

bool YamlWalker::expect_map(const YAML::Node& node, const YAML::Mark& at, std::string_view what) {
  if (node.IsMap()) return true;
  error(mark_of(node, at), std::string(what) + ": expected a map, got " + type_name(node));
  return false;
}

bool YamlWalker::expect_sequence(const YAML::Node& node, const YAML::Mark& at,
                                 std::string_view what) {
  if (node.IsSequence()) return true;
  error(mark_of(node, at), std::string(what) + ": expected a list, got " + type_name(node));
  return false;
}

std::optional<std::vector<std::string>> YamlWalker::string_list(
    const YAML::Node& node, const YAML::Mark& at, std::string_view what, std::size_t depth,
    std::size_t max_items, const std::function<std::string(const std::string&)>& check) {
  if (!expect_sequence(node, at, what)) return std::nullopt;
  if (node.size() > max_items) {
    error(node.Mark(), std::string(what) + ": more than " + std::to_string(max_items) + " items");
    return std::nullopt;
  }
  std::vector<std::string> out;
  bool ok = true;
  for (const auto& item : node) {
    if (!visit(item, depth + 1)) return std::nullopt;
    auto s = string(item, node.Mark(), what);
    if (!s) {
      ok = false;
      continue;
    }
    if (std::string why = check(*s); !why.empty()) {
      error(mark_of(item, node.Mark()), std::string(what) + ": " + why);
      ok = false;
      continue;
    }
    out.push_back(std::move(*s));
  }
  if (!ok) return std::nullopt;
  return out;
}

void YamlWalker::entries(const YAML::Node& map, std::size_t depth, std::string_view what,
                         std::initializer_list<std::string_view> allowed, std::size_t max_entries,
                         const EntryFn& fn) {
  if (map.size() > max_entries) {
    error(map.Mark(),
          std::string(what) + ": more than " + std::to_string(max_entries) + " entries");
    return;
  }
  std::map<std::string, int> first_line;
  for (auto it = map.begin(); it != map.end(); ++it) {
    // Copies: it-> yields a temporary pair, so a reference to its members would dangle.
    const YAML::Node key = it->first;
    const YAML::Node value = it->second;
    if (!visit(key, depth + 1) || !visit(value, depth + 1)) return;
    if (!key.IsScalar()) {
      error(mark_of(key, map.Mark()), std::string(what) + ": keys must be strings");
      continue;
    }
    const std::string& k = key.Scalar();
    if (k == "<<") {
      error(key.Mark(), std::string(what) + ": merge keys ('<<') are not supported");
      continue;
    }
    auto [prev, fresh] = first_line.emplace(k, key.Mark().line + 1);
    if (!fresh) {
      error(key.Mark(), std::string(what) + ": duplicate key '" + shown(k) + "' (first on line " +
                            std::to_string(prev->second) + ")");
      continue;
    }
    if (allowed.size() > 0 && std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
      std::string msg = std::string(what) + ": unknown key '" + shown(k) + "'";
      std::string_view best;
      std::size_t best_d = 3;
      for (auto a : allowed) {
        auto d = edit_distance(k, a);
        if (d < best_d) {
          best_d = d;
          best = a;
        }
      }
      if (!best.empty()) {
        msg += " (did you mean '" + std::string(best) + "'?)";
      } else {
        msg += " (known: ";
        bool first = true;
        for (auto a : allowed) {
          msg += (first ? "" : ", ") + std::string(a);
          first = false;
        }
        msg += ")";
      }
      error(key.Mark(), std::move(msg));
      continue;
    }
    fn(k, key, value);
  }
}

}  // namespace mesh::ci
