// Asio and Beast compiled once for the whole program (BOOST_ASIO_SEPARATE_COMPILATION and
// BOOST_BEAST_SEPARATE_COMPILATION are set for every target): this keeps each translation
// unit that includes them cheaper to build on the 2-core machines CI runs on.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
