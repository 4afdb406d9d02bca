#include "service/events/events.hpp"
