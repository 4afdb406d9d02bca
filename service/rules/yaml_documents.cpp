#include "service/rules/yaml_documents.hpp"

#include <yaml-cpp/eventhandler.h>

#include <sstream>

namespace ferry::yaml {
namespace {

class start_collector final : public document_start_listener {
 public:
  explicit start_collector(std::vector<YAML::Mark>& starts) : starts_(starts) {}
  void on_document_start(const YAML::Mark& mark) override { starts_.push_back(mark); }

 private:
  std::vector<YAML::Mark>& starts_;
};

}  // namespace

documents document_starts(const std::string& text, std::size_t max_documents,
                          std::vector<YAML::Mark>& starts) {
  documents out;
  try {
    std::istringstream in(text);
    YAML::Parser parser(in);
    start_collector collect(starts);
    bool more = true;
    for (std::size_t i = 0; i <= max_documents && (more = parser.HandleNextDocument(collect));
         ++i) {
    }
    for (std::size_t i = 1; i < starts.size(); ++i) {
      if (starts[i].pos <= starts[i - 1].pos) {
        out.failed = true;
        out.mark = starts[i];
        out.message = "YAML syntax error: cannot read past this point";
        return out;
      }
    }
    if (more && starts.size() > max_documents) {
      out.too_many = true;
      out.mark = starts[max_documents];
      out.message = "more than " + std::to_string(max_documents) + " YAML documents in one file";
    }
  } catch (const YAML::Exception& e) {
    out.failed = true;
    out.mark = e.mark;
    out.message = "YAML syntax error: " + e.msg;
  }
  return out;
}

documents load_all(std::string_view text, std::size_t max_documents) {
  const std::string owned(text);
  std::vector<YAML::Mark> starts;
  documents out = document_starts(owned, max_documents, starts);
  if (out.failed || out.too_many) {
    out.failed = true;
    return out;
  }
  try {
    out.nodes = YAML::LoadAll(owned);
  } catch (const YAML::Exception& e) {
    out.failed = true;
    out.mark = e.mark;
    out.message = "YAML syntax error: " + e.msg;
    out.nodes.clear();
  }
  return out;
}

}  // namespace ferry::yaml
