#include "operators/operators.hpp"

namespace socstream {

void register_operators(Registry& r) {
  r.add(json_parse_spec());
  r.add(regex_prefilter_spec());
  r.add(alert_spec());
  r.add(transformer_spec());
  r.add(online_classifier_spec());
  r.add(sigma_spec());
  r.add(parse_spec());
}

}  // namespace socstream
