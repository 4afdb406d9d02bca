// Marker scanning: a byte-level fast path, a one-line tokenizer that finds the comment and
// the scalar before it, and yaml-cpp's event parser to confirm the file is valid YAML and the
// scalar found really is a scalar node (not text inside a block scalar or a multi-line one).

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <istream>
#include <streambuf>

#include "service/markers/markers.hpp"
#include "service/markers/scan_internal.hpp"

namespace ferry::markers {

namespace {

// Flux's setter shorthand (image-automation-controller: `SetterShortHand = "$imagepolicy"`).
constexpr std::string_view k_needle = "$imagepolicy";

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}
bool is_flow_indicator(char c) {
  return c == ',' || c == '[' || c == ']' || c == '{' || c == '}';
}

// A view of the bytes as an istream without copying them (yaml-cpp reads from a stream).
class view_buf : public std::streambuf {
 public:
  explicit view_buf(std::string_view v) {
    char* p = const_cast<char*>(v.data());  // read-only get area; never written through
    setg(p, p, p + v.size());
  }
};

enum class token_kind { scalar, indicator, open, close, property, alias, block_header };

struct token {
  token_kind kind;
  std::size_t begin;
  std::size_t end;
  scalar_style style = scalar_style::plain;
  bool in_flow = false;
};

struct line_tokens {
  std::vector<token> tokens;
  std::size_t comment = std::string_view::npos;  // offset of the '#' that starts the comment
  bool open_quote = false;                       // a quoted scalar runs past the end of the line
};

// Splits one line [begin, end) into YAML tokens up to its comment. `flow_depth` is the flow
// nesting the line starts in (the tokenizer cannot see earlier lines; the caller retries with
// 1 when yaml-cpp says the scalar is inside a flow collection opened on an earlier line).
line_tokens tokenize_line(std::string_view s, std::size_t begin, std::size_t end, int flow_depth) {
  line_tokens out;
  std::size_t i = begin;
  bool after_blank = true;  // a comment '#' must follow whitespace or start the line
  auto next_is_blank_or_end = [&](std::size_t j) { return j + 1 >= end || is_blank(s[j + 1]); };
  while (i < end) {
    const char c = s[i];
    if (is_blank(c)) {
      after_blank = true;
      ++i;
      continue;
    }
    if (c == '#' && after_blank) {
      out.comment = i;
      return out;
    }
    after_blank = false;
    if (i == begin && end - begin >= 3 && (s.substr(i, 3) == "---" || s.substr(i, 3) == "...") &&
        (end - begin == 3 || is_blank(s[i + 3]))) {
      out.tokens.push_back({token_kind::indicator, i, i + 3});
      i += 3;
      continue;
    }
    if (c == '{' || c == '[') {
      ++flow_depth;
      out.tokens.push_back({token_kind::open, i, i + 1});
      ++i;
      continue;
    }
    if (c == '}' || c == ']') {
      flow_depth = std::max(0, flow_depth - 1);
      out.tokens.push_back({token_kind::close, i, i + 1});
      ++i;
      continue;
    }
    if (c == ',' && flow_depth > 0) {
      out.tokens.push_back({token_kind::indicator, i, i + 1});
      ++i;
      continue;
    }
    if ((c == '-' || c == '?' || c == ':') && next_is_blank_or_end(i)) {
      out.tokens.push_back({token_kind::indicator, i, i + 1});
      ++i;
      continue;
    }
    if (c == ':' && flow_depth > 0 && i + 1 < end && is_flow_indicator(s[i + 1])) {
      out.tokens.push_back({token_kind::indicator, i, i + 1});
      ++i;
      continue;
    }
    if (c == '"' || c == '\'') {
      std::size_t j = i + 1;
      bool closed = false;
      while (j < end) {
        if (c == '"' && s[j] == '\\') {
          j += 2;
          continue;
        }
        if (s[j] == c) {
          if (c == '\'' && j + 1 < end && s[j + 1] == '\'') {
            j += 2;  // '' is an escaped quote inside a single-quoted scalar
            continue;
          }
          closed = true;
          break;
        }
        ++j;
      }
      if (!closed) {
        out.open_quote = true;  // the rest of the line is inside the string: no comment here
        return out;
      }
      out.tokens.push_back({token_kind::scalar, i, j + 1,
                            c == '"' ? scalar_style::double_quoted : scalar_style::single_quoted,
                            flow_depth > 0});
      i = j + 1;
      continue;
    }
    if (c == '!' || c == '&' || c == '*') {
      std::size_t j = i + 1;
      while (j < end && !is_blank(s[j]) && !(flow_depth > 0 && is_flow_indicator(s[j]))) {
        ++j;
      }
      out.tokens.push_back({c == '*' ? token_kind::alias : token_kind::property, i, j});
      i = j;
      continue;
    }
    if ((c == '|' || c == '>') && flow_depth == 0) {
      std::size_t j = i + 1;
      while (j < end && (s[j] == '+' || s[j] == '-' || (s[j] >= '0' && s[j] <= '9'))) {
        ++j;
      }
      out.tokens.push_back({token_kind::block_header, i, j});
      i = j;
      continue;
    }
    // A plain scalar: it ends before " #", before ": " (a key), and in flow context before
    // any flow indicator; trailing blanks are not part of it (YAML 1.2, 7.3.3).
    std::size_t j = i;
    std::size_t last = i;
    while (j < end) {
      const char cj = s[j];
      if (is_blank(cj)) {
        ++j;
        continue;
      }
      if (cj == '#' && j > i && is_blank(s[j - 1])) {
        break;
      }
      if (cj == ':' &&
          (j + 1 >= end || is_blank(s[j + 1]) || (flow_depth > 0 && is_flow_indicator(s[j + 1])))) {
        break;
      }
      if (flow_depth > 0 && is_flow_indicator(cj)) {
        break;
      }
      ++j;
      last = j;
    }
    if (last == i) {
      last = i + 1;  // a lone character the rules above do not cover; keep moving
    }
    out.tokens.push_back({token_kind::scalar, i, last, scalar_style::plain, flow_depth > 0});
    i = last;
  }
  return out;
}

struct parsed_comment {
  bool marker_shaped = false;  // `{ "$imagepolicy" ...`: a marker, well-formed or not
  std::string error;           // why a marker-shaped comment is unusable
  std::string ns;
  std::string name;
  marker_field field = marker_field::whole;
};

// The comment text after '#': `{"$imagepolicy": "NS:NAME[:FIELD]"}`, blanks allowed around
// the JSON tokens (Flux reads the comment as a JSON object), anything after the closing brace
// is another comment and ignored.
parsed_comment parse_marker_comment(std::string_view text) {
  parsed_comment out;
  std::size_t i = 0;
  auto skip = [&] {
    while (i < text.size() && is_blank(text[i])) {
      ++i;
    }
  };
  skip();
  if (i >= text.size() || text[i] != '{') {
    return out;
  }
  ++i;
  skip();
  constexpr std::string_view k_key = "\"$imagepolicy\"";
  if (text.substr(i, k_key.size()) != k_key) {
    return out;
  }
  out.marker_shaped = true;
  i += k_key.size();
  skip();
  if (i >= text.size() || text[i] != ':') {
    out.error = "malformed marker: expected ':' after \"$imagepolicy\"";
    return out;
  }
  ++i;
  skip();
  if (i >= text.size() || text[i] != '"') {
    out.error = "malformed marker: expected a quoted \"NAMESPACE:NAME\"";
    return out;
  }
  ++i;
  const std::size_t close = text.find('"', i);
  if (close == std::string_view::npos) {
    out.error = "malformed marker: unterminated string";
    return out;
  }
  const std::string_view value = text.substr(i, close - i);
  i = close + 1;
  skip();
  if (i >= text.size() || text[i] != '}') {
    out.error = "malformed marker: expected '}'";
    return out;
  }
  if (value.find('\\') != std::string_view::npos) {
    out.error = "malformed marker: escapes are not allowed in the policy reference";
    return out;
  }
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t colon = value.find(':', start);
    parts.push_back(value.substr(start, colon == std::string_view::npos ? colon : colon - start));
    if (colon == std::string_view::npos) {
      break;
    }
    start = colon + 1;
  }
  if (parts.size() < 2 || parts.size() > 3 || parts[0].empty() || parts[1].empty()) {
    out.error = "malformed marker: \"" + std::string(value) +
                "\" is not NAMESPACE:NAME or NAMESPACE:NAME:tag|name|digest";
    return out;
  }
  out.ns = parts[0];
  out.name = parts[1];
  if (parts.size() == 3) {
    if (parts[2] == "tag") {
      out.field = marker_field::tag;
    } else if (parts[2] == "name") {
      out.field = marker_field::name;
    } else if (parts[2] == "digest") {
      out.field = marker_field::digest;
    } else {
      out.error = "malformed marker: unknown field \"" + std::string(parts[2]) +
                  "\" (expected tag, name or digest)";
      return out;
    }
  }
  return out;
}

// A scalar node as yaml-cpp reports it: where it starts (its properties if it has any) and
// its decoded value. Only nodes on marker lines are kept.
struct scalar_node {
  int line;    // 0-based, yaml-cpp's
  int column;  // 0-based byte column
  bool in_flow;
  bool null;  // yaml-cpp reported a null (`~`, `null`, or nothing)
  std::string value;
};

class scalar_collector : public YAML::EventHandler {
 public:
  explicit scalar_collector(const std::vector<int>& lines) : lines_(lines) {}

  void OnDocumentStart(const YAML::Mark& mark) override {
    last_document_ = document_;
    document_ = mark;
  }
  // yaml-cpp 0.7 answers some invalid input (a stray ',' in block context) with an endless
  // stream of empty documents that consume nothing (jbeder/yaml-cpp#1040, fixed upstream by
  // #1319 after 0.8): a document starting where the previous one did means no progress.
  bool stuck() const { return document_.pos == last_document_.pos; }
  const YAML::Mark& document_mark() const { return document_; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { add(mark, std::string(), true); }
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string& value) override {
    add(mark, value, false);
  }
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value style) override {
    push(style);
  }
  void OnSequenceEnd() override { pop(); }
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value style) override {
    push(style);
  }
  void OnMapEnd() override { pop(); }

  std::vector<scalar_node> nodes;

 private:
  void add(const YAML::Mark& mark, std::string value, bool null) {
    if (std::binary_search(lines_.begin(), lines_.end(), mark.line)) {
      nodes.push_back({mark.line, mark.column, flow_depth_ > 0, null, std::move(value)});
    }
  }
  void push(YAML::EmitterStyle::value style) {
    flow_.push_back(style == YAML::EmitterStyle::Flow);
    flow_depth_ += flow_.back() ? 1 : 0;
  }
  void pop() {
    if (!flow_.empty()) {
      flow_depth_ -= flow_.back() ? 1 : 0;
      flow_.pop_back();
    }
  }
  const std::vector<int>& lines_;
  YAML::Mark document_ = YAML::Mark::null_mark();
  YAML::Mark last_document_ = YAML::Mark::null_mark();
  std::vector<bool> flow_;
  int flow_depth_ = 0;
};

struct candidate_line {
  int line;  // 0-based
  std::size_t begin;
  std::size_t end;  // excludes "\n" and a "\r" before it
};

// Does yaml-cpp's reading of the node agree with the bytes the tokenizer delimited? They
// differ when the line is not what it looks like on its own (yaml-cpp's leniency on odd
// indentation, control characters), and then the marker is not safe to edit.
bool node_matches_text(const scalar_node& node, std::string_view raw, scalar_style style) {
  switch (style) {
    case scalar_style::plain:
      if (node.null) {
        return raw == "~" || raw == "null" || raw == "Null" || raw == "NULL";
      }
      return node.value == raw;
    case scalar_style::single_quoted: {
      std::string decoded;
      const std::string_view inner = raw.substr(1, raw.size() - 2);
      for (std::size_t i = 0; i < inner.size(); ++i) {
        decoded += inner[i];
        if (inner[i] == '\'' && i + 1 < inner.size() && inner[i + 1] == '\'') {
          ++i;
        }
      }
      return !node.null && node.value == decoded;
    }
    case scalar_style::double_quoted: {
      const std::string_view inner = raw.substr(1, raw.size() - 2);
      if (inner.find('\\') != std::string_view::npos) {
        return !node.null;  // escapes: yaml-cpp's decoding is the reference
      }
      return !node.null && node.value == inner;
    }
  }
  return false;
}

const scalar_node* find_node(const std::vector<scalar_node>& nodes, int line, int column) {
  for (const auto& n : nodes) {
    if (n.line == line && n.column == column) {
      return &n;
    }
  }
  return nullptr;
}

}  // namespace

const char* to_string(marker_field f) noexcept {
  switch (f) {
    case marker_field::whole:
      return "whole";
    case marker_field::tag:
      return "tag";
    case marker_field::name:
      return "name";
    case marker_field::digest:
      return "digest";
  }
  return "whole";
}

std::string to_string(const diagnostic& d) {
  if (d.line <= 0) {
    return d.file + ": " + d.message;
  }
  return d.file + ":" + std::to_string(d.line) + ":" + std::to_string(d.column) + ": " + d.message;
}

bool may_contain_marker(std::string_view content) noexcept {
  // '$' is rare in YAML, so memchr (vectorised in glibc) skips most bytes; each hit is
  // confirmed with one comparison. Measured faster than glibc memmem's two-way search here.
  const char* p = content.data();
  const char* const e = p + content.size();
  while (p < e) {
    const void* hit = std::memchr(p, '$', static_cast<std::size_t>(e - p));
    if (hit == nullptr) {
      return false;
    }
    p = static_cast<const char*>(hit);
    if (static_cast<std::size_t>(e - p) < k_needle.size()) {
      return false;
    }
    if (std::memcmp(p, k_needle.data(), k_needle.size()) == 0) {
      return true;
    }
    ++p;
  }
  return false;
}

result<file_scan> scan_file(std::string_view path_in_repo, std::string_view content) {
  file_scan out;
  if (auto err = detail::scan_into(path_in_repo, content, out)) {
    return make_error(error_kind::invalid_input, to_string(*err));
  }
  return out;
}

std::optional<diagnostic> detail::scan_into(std::string_view path_in_repo, std::string_view content,
                                            file_scan& out) {
  if (!may_contain_marker(content)) {
    return std::nullopt;
  }
  const std::string file(path_in_repo);

  // Lines that hold the needle, in order, each once.
  std::vector<candidate_line> lines;
  {
    int line = 0;
    std::size_t line_begin = 0;
    std::size_t counted_to = 0;
    std::size_t from = 0;
    while (true) {
      const std::size_t hit = content.find(k_needle, from);
      if (hit == std::string_view::npos) {
        break;
      }
      for (std::size_t i = counted_to; i < hit; ++i) {
        if (content[i] == '\n') {
          ++line;
          line_begin = i + 1;
        }
      }
      counted_to = hit;
      std::size_t line_end = content.find('\n', hit);
      if (line_end == std::string_view::npos) {
        line_end = content.size();
      }
      std::size_t text_end = line_end;
      if (text_end > line_begin && content[text_end - 1] == '\r') {
        --text_end;
      }
      if (lines.empty() || lines.back().line != line) {
        lines.push_back({line, line_begin, text_end});
      }
      from = hit + k_needle.size();
    }
  }

  // Tokenize each line; keep the ones whose comment is marker-shaped.
  struct pending {
    candidate_line where;
    std::size_t comment;  // offset of the comment's '#'
    parsed_comment comment_text;
  };
  std::vector<pending> found;
  for (const auto& l : lines) {
    const line_tokens t = tokenize_line(content, l.begin, l.end, 0);
    if (t.comment == std::string_view::npos) {
      continue;  // the needle is inside a scalar or a multi-line string, not a comment
    }
    const std::string_view comment_text = content.substr(t.comment + 1, l.end - t.comment - 1);
    if (comment_text.find(k_needle) == std::string_view::npos) {
      continue;
    }
    parsed_comment pc = parse_marker_comment(comment_text);
    if (!pc.marker_shaped) {
      continue;  // prose that mentions $imagepolicy; Flux ignores it too
    }
    found.push_back({l, t.comment, std::move(pc)});
  }
  if (found.empty()) {
    return std::nullopt;
  }

  // The whole file must be valid YAML before anything in it is edited.
  std::vector<int> marker_lines;
  for (const auto& f : found) {
    marker_lines.push_back(f.where.line);
  }
  scalar_collector collector(marker_lines);
  try {
    view_buf buf(content);
    std::istream in(&buf);
    YAML::Parser parser(in);
    while (parser.HandleNextDocument(collector)) {
      if (collector.stuck()) {
        const YAML::Mark& at = collector.document_mark();
        return diagnostic{file, at.line + 1, at.column + 1, "malformed YAML: unexpected character"};
      }
    }
  } catch (const YAML::Exception& e) {
    return diagnostic{file, e.mark.is_null() ? 0 : e.mark.line + 1,
                      e.mark.is_null() ? 0 : e.mark.column + 1, "malformed YAML: " + e.msg};
  } catch (const std::exception& e) {
    return diagnostic{file, 0, 0, "malformed YAML: " + std::string(e.what())};
  }
  // yaml-cpp skips a UTF-8 byte order mark without counting it in the first line's columns.
  const bool bom = content.substr(0, 3) == "\xEF\xBB\xBF";

  for (const auto& f : found) {
    const candidate_line& l = f.where;
    const parsed_comment& pc = f.comment_text;
    auto problem = [&](std::string message) {
      out.problems.push_back(diagnostic{file, l.line + 1, static_cast<int>(f.comment - l.begin) + 1,
                                        std::move(message)});
    };
    if (!pc.error.empty()) {
      problem(pc.error);
      continue;
    }
    std::string why;
    bool done = false;
    // First as the line reads on its own; then as the inside of a flow collection opened on
    // an earlier line, when yaml-cpp says the scalar is in flow context.
    for (int initial_depth = 0; initial_depth <= 1 && !done; ++initial_depth) {
      const line_tokens t = tokenize_line(content, l.begin, l.end, initial_depth);
      // The scalar the comment follows: the last token before it, looking through the
      // closing brackets and commas of flow collections (`{name: app, newTag: v1} # ...`
      // names v1, the scalar node the comment follows on its line).
      std::ptrdiff_t k = static_cast<std::ptrdiff_t>(t.tokens.size()) - 1;
      while (k >= 0 &&
             (t.tokens[k].kind == token_kind::close ||
              (t.tokens[k].kind == token_kind::indicator && content[t.tokens[k].begin] == ','))) {
        --k;
      }
      if (k < 0 || t.tokens[k].kind != token_kind::scalar) {
        if (k >= 0 && t.tokens[k].kind == token_kind::block_header) {
          why = "marker on a block scalar (| or >): only single-line scalars can be edited";
        } else {
          why = "marker has no scalar value before it on its line";
        }
        break;
      }
      const token& tok = t.tokens[k];
      // yaml-cpp marks a node where its properties (!tag, &anchor) start.
      std::size_t node_start = tok.begin;
      for (std::ptrdiff_t p = k - 1; p >= 0 && t.tokens[p].kind == token_kind::property; --p) {
        node_start = t.tokens[p].begin;
      }
      const scalar_node* node = nullptr;
      for (std::size_t start : {tok.begin, node_start}) {
        int column = static_cast<int>(start - l.begin);
        if (bom && l.line == 0) {
          column -= 3;
        }
        node = find_node(collector.nodes, l.line, column);
        if (node != nullptr) {
          break;
        }
      }
      if (node == nullptr) {
        why =
            "marker does not follow a scalar value (is it inside a block or multi-line "
            "scalar?)";
        continue;
      }
      if (node->in_flow != tok.in_flow ||
          !node_matches_text(*node, content.substr(tok.begin, tok.end - tok.begin), tok.style)) {
        why = "marker scalar could not be delimited in its flow collection";
        continue;
      }
      marker m;
      m.file = file;
      m.line = l.line + 1;
      m.column = static_cast<int>(tok.begin - l.begin) + 1;
      m.ns = pc.ns;
      m.name = pc.name;
      m.field = pc.field;
      m.value = node->value;
      m.value_offset = tok.begin;
      m.value_length = tok.end - tok.begin;
      m.style = tok.style;
      m.in_flow = tok.in_flow;
      out.markers.push_back(std::move(m));
      done = true;
    }
    if (!done) {
      problem(why);
    }
  }
  return std::nullopt;
}

}  // namespace ferry::markers
