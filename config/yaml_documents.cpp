#include "config/yaml_documents.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

#include <sstream>
#include <string>

namespace rtmpt::config {
namespace {

class DocumentMarks final : public YAML::EventHandler {
  public:
    void OnDocumentStart(const YAML::Mark& mark) override {
        start = mark;
        root = mark;
        root_seen = false;
    }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
    void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
    void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t, const std::string&) override {
        node(mark);
    }
    void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {
        node(mark);
    }
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {
        node(mark);
    }
    void OnMapEnd() override {}

    YAML::Mark start = YAML::Mark::null_mark();  // the document's "---", or its first token
    YAML::Mark root = YAML::Mark::null_mark();   // the document's top node, where a reader looks

  private:
    void node(const YAML::Mark& mark) {
        if (!root_seen) root = mark;
        root_seen = true;
    }
    bool root_seen = false;
};

}  // namespace

DocumentScan scan_documents(std::string_view yaml) {
    std::istringstream in{std::string(yaml)};
    YAML::Parser parser(in);
    DocumentMarks starts;
    DocumentScan scan;
    int previous_pos = -1;
    while (parser.HandleNextDocument(starts)) {
        // Every real document consumes at least one character, so a document starting where the
        // previous one did means the parser is going round in circles.
        if (starts.start.pos == previous_pos) {
            scan.stuck_at = starts.start;
            break;
        }
        previous_pos = starts.start.pos;
        if (++scan.count == 2) scan.second = starts.root;
    }
    return scan;
}

}  // namespace rtmpt::config
