#include "service/onboard/ownership.hpp"

#include <openssl/evp.h>

#include <boost/json.hpp>

#include <algorithm>
#include <set>
#include <utility>

#include "service/limits.hpp"

namespace ferry::onboard {

namespace {

namespace json = boost::json;

bool is_space(char c) {
  return c == ' ' || c == '\t';
}

// The end of the scalar that starts at `at` within [at, end): a quoted scalar ends after its
// closing quote, a plain one before " #" or the end, trailing blanks trimmed.
std::size_t scalar_end(std::string_view line, std::size_t at) {
  if (at < line.size() && (line[at] == '"' || line[at] == '\'')) {
    const char q = line[at];
    for (std::size_t i = at + 1; i < line.size(); ++i) {
      if (q == '"' && line[i] == '\\') {
        ++i;
        continue;
      }
      if (line[i] == q) {
        if (q == '\'' && i + 1 < line.size() && line[i + 1] == '\'') {
          ++i;
          continue;
        }
        return i + 1;
      }
    }
    return line.size();
  }
  std::size_t end = line.size();
  for (std::size_t i = at; i < line.size(); ++i) {
    if (line[i] == '#' && (i == at || is_space(line[i - 1]))) {
      end = i;
      break;
    }
  }
  while (end > at && is_space(line[end - 1])) {
    --end;
  }
  return end;
}

// Where a mapping key ends in `line` from `at` (the ':' followed by a blank or the end), or npos.
std::size_t key_colon(std::string_view line, std::size_t at) {
  std::size_t i = at;
  if (i < line.size() && (line[i] == '"' || line[i] == '\'')) {
    i = scalar_end(line, i);
  }
  for (; i < line.size(); ++i) {
    if (line[i] == '#' && i > at && is_space(line[i - 1])) {
      return std::string_view::npos;
    }
    if (line[i] == ':' && (i + 1 == line.size() || is_space(line[i + 1]))) {
      return i;
    }
  }
  return std::string_view::npos;
}

std::string hex_sha256(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), md, &n, EVP_sha256(), nullptr);
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    out.push_back(k_hex[md[i] >> 4]);
    out.push_back(k_hex[md[i] & 0xf]);
  }
  return out;
}

// A JSON string literal (Boost.JSON's escaping).
std::string quoted(std::string_view s) {
  return json::serialize(json::value(json::string_view(s.data(), s.size())));
}

}  // namespace

std::vector<yaml_entry> yaml_entries(std::string_view text) {
  struct frame {
    std::size_t indent;
    std::string path;
    bool item;
  };
  std::vector<yaml_entry> out;
  std::vector<frame> stack;
  std::set<std::string> seen;
  std::map<std::string, int> repeats;
  auto unique = [&seen, &repeats](std::string path) {
    if (seen.insert(path).second) {
      return path;
    }
    for (int& n = repeats[path];;) {
      std::string p = path + "#" + std::to_string(++n + 1);
      if (seen.insert(p).second) {
        return p;
      }
    }
  };
  auto join = [](const std::string& parent, std::string_view seg) {
    return parent.empty() ? std::string(seg) : parent + "." + std::string(seg);
  };
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t nl = text.find('\n', pos);
    const std::size_t line_end = nl == std::string_view::npos ? text.size() : nl + 1;
    std::string_view line =
        text.substr(pos, (nl == std::string_view::npos ? text.size() : nl) - pos);
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    const std::size_t line_begin = pos;
    pos = line_end;
    std::size_t col = 0;
    while (col < line.size() && line[col] == ' ') {
      ++col;
    }
    if (col == line.size() || line[col] == '#' || line.substr(col) == "---" ||
        line.substr(col) == "...") {
      continue;
    }
    // The parent: the nearest frame indented less; a list item may sit at its key's column.
    const bool dash = line[col] == '-' && (col + 1 == line.size() || line[col + 1] == ' ');
    while (!stack.empty() && (stack.back().indent > col ||
                              (stack.back().indent == col && (!dash || stack.back().item)))) {
      stack.pop_back();
    }
    std::string parent = stack.empty() ? std::string() : stack.back().path;
    std::string first_key_parent;  // for an item's first key: the list it is an item of
    std::string unit;
    std::size_t at = col;
    if (dash) {
      at = col + 1;
      while (at < line.size() && line[at] == ' ') {
        ++at;
      }
      const std::size_t colon = key_colon(line, at);
      if (colon == std::string_view::npos) {
        // A scalar item: a leaf named by its value.
        const std::size_t end = scalar_end(line, at);
        const std::string value(line.substr(at, end - at));
        std::string path = unique(parent + "[" + value + "]");
        out.push_back(
            {path, value, parent, path, line_begin, line_end, line_begin + at, line_begin + end});
        continue;
      }
      std::size_t v = colon + 1;
      while (v < line.size() && is_space(line[v])) {
        ++v;
      }
      const std::string item_key(line.substr(at, colon - at));
      const std::string item_value(line.substr(v, scalar_end(line, v) - v));
      std::string item_path = unique(parent + "[" + item_key + "=" + item_value + "]");
      stack.push_back({col, item_path, true});
      first_key_parent = parent;
      unit = item_path;
      parent = item_path;
      col = at;
    }
    const std::size_t colon = key_colon(line, col);
    if (colon == std::string_view::npos) {
      // Not a key (a continuation of something this reader does not follow): a leaf of its own.
      const std::size_t end = scalar_end(line, col);
      const std::string value(line.substr(col, end - col));
      std::string path = unique(join(parent, "[" + value + "]"));
      out.push_back(
          {path, value, parent, path, line_begin, line_end, line_begin + col, line_begin + end});
      continue;
    }
    const std::string key(line.substr(col, colon - col));
    std::size_t v = colon + 1;
    while (v < line.size() && is_space(line[v])) {
      ++v;
    }
    std::size_t end = scalar_end(line, v);
    if (end < v) {
      end = v;
    }
    std::string path = unique(join(parent, key));
    const bool first_key = !unit.empty();
    yaml_entry e{path,
                 std::string(line.substr(v, end - v)),
                 first_key ? first_key_parent : parent,
                 first_key ? unit : path,
                 line_begin,
                 line_end,
                 line_begin + v,
                 line_begin + end};
    if (e.value.empty()) {
      e.value_begin = e.value_end = line_begin + colon + 1;
    }
    if (!e.value.empty() && (e.value[0] == '|' || e.value[0] == '>')) {
      // A block scalar: every following line indented deeper (or blank) belongs to it.
      std::size_t p = pos;
      std::size_t last = pos;
      while (p < text.size()) {
        const std::size_t n2 = text.find('\n', p);
        const std::size_t le = n2 == std::string_view::npos ? text.size() : n2 + 1;
        const std::string_view l = text.substr(p, le - p);
        std::size_t c = 0;
        while (c < l.size() && l[c] == ' ') {
          ++c;
        }
        const bool blank = l.find_first_not_of(" \r\n") == std::string_view::npos;
        if (!blank && c <= col) {
          break;
        }
        p = le;
        last = le;
      }
      e.value = std::string(text.substr(e.value_begin, last - e.value_begin));
      e.value_end = last;
      e.line_end = last;
      pos = last;
    }
    out.push_back(std::move(e));
    stack.push_back({col, out.back().path, false});
  }
  return out;
}

recorded_file record_of(std::string_view content) {
  recorded_file r;
  r.sha256 = hex_sha256(content);
  for (auto& e : yaml_entries(content)) {
    r.fields.emplace(std::move(e.path), std::move(e.value));
  }
  return r;
}

std::string write_record(const ownership_record& r) {
  std::string out = "{\n  \"version\": 1,\n";
  out += "  \"app\": " + quoted(r.app) + ",\n";
  out += "  \"source\": " + quoted(r.source) + ",\n";
  out += "  \"compose\": " + quoted(r.compose) + ",\n";
  out += "  \"commit\": " + quoted(r.commit) + ",\n";
  out += "  \"files\": {";
  bool first_file = true;
  for (const auto& [path, f] : r.files) {
    out += first_file ? "\n" : ",\n";
    first_file = false;
    out += "    " + quoted(path) + ": {\n      \"sha256\": " + quoted(f.sha256) +
           ",\n      \"fields\": {";
    bool first = true;
    for (const auto& [k, v] : f.fields) {
      out += first ? "\n" : ",\n";
      first = false;
      out += "        " + quoted(k) + ": " + quoted(v);
    }
    out += first ? "}\n    }" : "\n      }\n    }";
  }
  out += first_file ? "},\n" : "\n  },\n";
  out += "  \"spliced\": [";
  for (std::size_t i = 0; i < r.spliced.size(); ++i) {
    out += (i == 0 ? "\n    " : ",\n    ") + quoted(r.spliced[i]);
  }
  out += r.spliced.empty() ? "]\n}\n" : "\n  ]\n}\n";
  return out;
}

result<ownership_record> read_record(std::string_view text, std::string_view file_name) {
  const std::string name(file_name);
  auto fail = [&name](const std::string& what) -> result<ownership_record> {
    return make_error(error_kind::invalid_input, name + ": " + what);
  };
  if (text.size() > limits::k_rules_file_max) {
    return fail("more than " + std::to_string(limits::k_rules_file_max) + " bytes");
  }
  boost::system::error_code ec;
  json::parse_options po;
  po.max_depth = 8;
  const json::value root = json::parse(json::string_view(text.data(), text.size()), ec, {}, po);
  if (ec) {
    return fail("not JSON (" + ec.message() + ")");
  }
  const auto* obj = root.if_object();
  if (obj == nullptr) {
    return fail("not a JSON object");
  }
  ownership_record r;
  auto str = [&](const json::value& v, const std::string& key, std::string& to) -> bool {
    const auto* s = v.if_string();
    if (s == nullptr) {
      return false;
    }
    to.assign(s->data(), s->size());
    (void)key;
    return true;
  };
  bool have_version = false;
  for (const auto& kv : *obj) {
    const std::string key(kv.key());
    if (key == "version") {
      const auto* i = kv.value().if_int64();
      if (i == nullptr || *i != 1) {
        return fail("version: must be 1");
      }
      have_version = true;
    } else if (key == "app" || key == "source" || key == "compose" || key == "commit") {
      std::string& to = key == "app"       ? r.app
                        : key == "source"  ? r.source
                        : key == "compose" ? r.compose
                                           : r.commit;
      if (!str(kv.value(), key, to)) {
        return fail(key + ": must be a string");
      }
    } else if (key == "files") {
      const auto* files = kv.value().if_object();
      if (files == nullptr) {
        return fail("files: must be an object");
      }
      for (const auto& f : *files) {
        const std::string path(f.key());
        const auto* fo = f.value().if_object();
        if (fo == nullptr) {
          return fail("files." + path + ": must be an object");
        }
        recorded_file rf;
        bool have_sha = false;
        for (const auto& fk : *fo) {
          const std::string k(fk.key());
          if (k == "sha256") {
            if (!str(fk.value(), k, rf.sha256)) {
              return fail("files." + path + ".sha256: must be a string");
            }
            have_sha = true;
          } else if (k == "fields") {
            const auto* fields = fk.value().if_object();
            if (fields == nullptr) {
              return fail("files." + path + ".fields: must be an object");
            }
            for (const auto& field : *fields) {
              std::string v;
              if (!str(field.value(), k, v)) {
                return fail("files." + path + ".fields." + std::string(field.key()) +
                            ": must be a string");
              }
              rf.fields[std::string(field.key())] = std::move(v);
            }
          } else {
            return fail("files." + path + "." + k + ": unknown key");
          }
        }
        if (!have_sha) {
          return fail("files." + path + ": sha256 is missing");
        }
        r.files[path] = std::move(rf);
      }
    } else if (key == "spliced") {
      const auto* list = kv.value().if_array();
      if (list == nullptr) {
        return fail("spliced: must be a list of strings");
      }
      for (const auto& item : *list) {
        std::string v;
        if (!str(item, key, v)) {
          return fail("spliced: must be a list of strings");
        }
        r.spliced.push_back(std::move(v));
      }
    } else {
      return fail(key + ": unknown key");
    }
  }
  if (!have_version) {
    return fail("version is missing");
  }
  return r;
}

merge_outcome merge_generated(const std::optional<recorded_file>& base,
                              const std::optional<std::string>& current,
                              std::string_view generated) {
  merge_outcome out;
  if (!current) {
    if (base) {
      out.left_alone.push_back("the whole file (deleted in the infra repository: stays deleted)");
      return out;
    }
    out.content = std::string(generated);
    return out;
  }
  if (!base) {
    out.content = *current;
    if (*current != generated) {
      out.left_alone.push_back("the whole file (it was there before ferry wrote it)");
    }
    return out;
  }
  if (hex_sha256(*current) == base->sha256) {
    // Untouched since ferry wrote it: ferry's own bytes, rewritten whole.
    out.content = std::string(generated);
    return out;
  }
  // Edited by a person: field by field, spliced into the person's bytes.
  const std::string& cur = *current;
  const auto c_entries = yaml_entries(cur);
  const auto n_entries = yaml_entries(generated);
  std::map<std::string, const yaml_entry*> c_by;
  std::map<std::string, const yaml_entry*> c_unit;  // the line that starts each node
  for (const auto& e : c_entries) {
    c_by.emplace(e.path, &e);
    c_unit.emplace(e.unit, &e);
  }
  std::set<std::string> n_paths;
  for (const auto& e : n_entries) {
    n_paths.insert(e.path);
  }
  auto below = [](const std::string& path, const std::string& node) {
    return path.size() > node.size() && path.starts_with(node) &&
           (path[node.size()] == '.' || path[node.size()] == '[');
  };
  // Where a node of the person's file ends: after its last line, or its descendants' last.
  auto subtree_end = [&](const std::string& node) {
    std::size_t end = 0;
    for (const auto& e : c_entries) {
      if (e.path == node || e.unit == node || below(e.path, node)) {
        end = std::max(end, e.line_end);
      }
    }
    return end;
  };
  struct edit {
    std::size_t at;
    std::size_t erase;
    std::string text;
  };
  std::vector<edit> edits;
  std::map<std::size_t, std::string> inserts;   // offset -> new lines, in document order
  std::map<std::string, std::size_t> inserted;  // node -> where its lines went
  auto described = [](const std::string& v) { return v.empty() ? std::string("a block") : v; };
  std::size_t top = 0;  // new top-level lines go after ferry's header comment
  if (const auto nl = cur.find('\n'); nl != std::string::npos && cur.starts_with("#")) {
    top = nl + 1;
  }
  // Where a new line goes: after its nearest earlier sibling (and all below it), else right
  // after its parent's line; nullopt when the person removed the parent.
  auto anchor_of = [&](std::size_t index) -> std::optional<std::size_t> {
    const auto& n = n_entries[index];
    for (std::size_t i = index; i-- > 0;) {
      const auto& s = n_entries[i];
      if (s.parent != n.parent || s.unit == n.unit) {
        continue;
      }
      if (auto it = inserted.find(s.unit); it != inserted.end()) {
        return it->second;
      }
      if (c_unit.count(s.unit) != 0) {
        return subtree_end(s.unit);
      }
    }
    if (n.parent.empty()) {
      return top;
    }
    if (auto it = inserted.find(n.parent); it != inserted.end()) {
      return it->second;
    }
    if (auto it = c_unit.find(n.parent); it != c_unit.end()) {
      return it->second->line_end;
    }
    return std::nullopt;
  };
  for (std::size_t i = 0; i < n_entries.size(); ++i) {
    const auto& n = n_entries[i];
    const auto b = base->fields.find(n.path);
    const auto c = c_by.find(n.path);
    const std::optional<std::string> bval =
        b == base->fields.end() ? std::nullopt : std::optional<std::string>(b->second);
    const std::optional<std::string> cval =
        c == c_by.end() ? std::nullopt : std::optional<std::string>(c->second->value);
    if (bval && *bval == n.value) {
      continue;  // ferry changes nothing here
    }
    if (cval && *cval == n.value) {
      continue;  // already what ferry writes
    }
    if (cval != bval) {
      out.left_alone.push_back(
          n.path + " (" + (cval ? "you set " + described(*cval) : std::string("you removed it")) +
          "; ferry would write " + described(n.value) + ")");
      continue;
    }
    if (c != c_by.end()) {
      edits.push_back(
          {c->second->value_begin, c->second->value_end - c->second->value_begin, n.value});
      continue;
    }
    const auto at = anchor_of(i);
    if (!at) {
      out.left_alone.push_back(n.path + " (not added: you removed " + n.parent + ")");
      continue;
    }
    std::string line(generated.substr(n.line_begin, n.line_end - n.line_begin));
    if (!line.ends_with('\n')) {
      line += '\n';
    }
    std::string& group = inserts[*at];
    if (group.empty() && *at > 0 && cur[*at - 1] != '\n') {
      group += '\n';
    }
    group += line;
    inserted[n.unit] = *at;
    inserted[n.path] = *at;
  }
  // Fields ferry no longer writes: removed where the person left them as ferry wrote them,
  // unless something below them stays.
  std::vector<const yaml_entry*> removed;
  for (const auto& [path, value] : base->fields) {
    if (n_paths.count(path) != 0) {
      continue;
    }
    const auto c = c_by.find(path);
    if (c == c_by.end()) {
      continue;
    }
    if (c->second->value == value) {
      removed.push_back(c->second);
    } else {
      out.left_alone.push_back(path + " (you set " + described(c->second->value) +
                               "; ferry no longer writes it)");
    }
  }
  std::set<std::string> removed_paths;
  for (const auto* e : removed) {
    removed_paths.insert(e->path);
  }
  for (const auto* e : removed) {
    bool child_stays = false;
    for (const auto& other : c_entries) {
      if ((below(other.path, e->path) || (e->unit != e->path && below(other.path, e->unit))) &&
          removed_paths.count(other.path) == 0) {
        child_stays = true;
      }
    }
    if (child_stays) {
      out.left_alone.push_back(e->path +
                               " (ferry no longer writes it; kept for what you added below it)");
      continue;
    }
    edits.push_back({e->line_begin, e->line_end - e->line_begin, {}});
  }
  for (auto& [at, text] : inserts) {
    edits.push_back({at, 0, std::move(text)});
  }
  std::stable_sort(edits.begin(), edits.end(), [](const edit& a, const edit& b) {
    // From the end; at one offset the removal first, then what goes before it.
    return a.at != b.at ? a.at > b.at : a.erase > b.erase;
  });
  std::string text = cur;
  for (const auto& e : edits) {
    text.replace(e.at, e.erase, e.text);
  }
  out.content = std::move(text);
  return out;
}

}  // namespace ferry::onboard
