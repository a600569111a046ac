/* A ROS 2 client in C (rcl): sends one QueryAnomaly request whose question is given as raw
 * bytes in hex on the command line, so a test can send bytes that are not valid UTF-8 (which
 * no rclpy client can), and prints the response as "success=<0|1> error=<message>".
 * Usage: raw_query_client SERVICE HEX_BYTES [SESSION_ID] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <rcl/rcl.h>
#include <rcl/error_handling.h>
#include <rcl/graph.h>
#include <rosidl_runtime_c/string_functions.h>
#include <tvau_msgs/srv/query_anomaly.h>

#define CHECK(x) do { if ((x) != RCL_RET_OK) { fprintf(stderr, "failed: %s: %s\n", #x, rcl_get_error_string().str); return 1; } } while (0)

int main(int argc, char ** argv) {
  if (argc < 3) { fprintf(stderr, "usage: %s SERVICE HEX [SESSION]\n", argv[0]); return 2; }
  size_t n = strlen(argv[2]) / 2;
  char * question = calloc(n + 1, 1);
  for (size_t i = 0; i < n; ++i) { unsigned v; sscanf(argv[2] + 2 * i, "%2x", &v); question[i] = (char)v; }
  rcl_allocator_t allocator = rcl_get_default_allocator();
  rcl_init_options_t init_options = rcl_get_zero_initialized_init_options();
  CHECK(rcl_init_options_init(&init_options, allocator));
  rcl_context_t context = rcl_get_zero_initialized_context();
  CHECK(rcl_init(0, NULL, &init_options, &context));
  rcl_node_t node = rcl_get_zero_initialized_node();
  rcl_node_options_t node_options = rcl_node_get_default_options();
  CHECK(rcl_node_init(&node, "tvau_raw_query_client", "", &context, &node_options));
  rcl_client_t client = rcl_get_zero_initialized_client();
  rcl_client_options_t client_options = rcl_client_get_default_options();
  CHECK(rcl_client_init(&client, &node, ROSIDL_GET_SRV_TYPE_SUPPORT(tvau_msgs, srv, QueryAnomaly), argv[1], &client_options));
  bool ready = false;
  for (int i = 0; i < 600 && !ready; ++i) {
    CHECK(rcl_service_server_is_available(&node, &client, &ready));
    if (!ready) { struct timespec t = {0, 100000000}; nanosleep(&t, NULL); }
  }
  if (!ready) { fprintf(stderr, "service %s not available\n", argv[1]); return 1; }
  tvau_msgs__srv__QueryAnomaly_Request request;
  tvau_msgs__srv__QueryAnomaly_Request__init(&request);
  rosidl_runtime_c__String__assign(&request.question, question);
  if (argc > 3) { rosidl_runtime_c__String__assign(&request.session_id, argv[3]); }
  int64_t sequence = 0;
  CHECK(rcl_send_request(&client, &request, &sequence));
  rcl_wait_set_t wait_set = rcl_get_zero_initialized_wait_set();
  CHECK(rcl_wait_set_init(&wait_set, 0, 0, 0, 1, 0, 0, &context, allocator));
  tvau_msgs__srv__QueryAnomaly_Response response;
  tvau_msgs__srv__QueryAnomaly_Response__init(&response);
  for (int i = 0; i < 600; ++i) {
    CHECK(rcl_wait_set_clear(&wait_set));
    CHECK(rcl_wait_set_add_client(&wait_set, &client, NULL));
    rcl_ret_t ret = rcl_wait(&wait_set, RCL_MS_TO_NS(100));
    if (ret == RCL_RET_TIMEOUT) { continue; }
    CHECK(ret);
    if (wait_set.clients[0]) {
      rmw_service_info_t header;
      CHECK(rcl_take_response_with_info(&client, &header, &response));
      printf("success=%d error=%s\n", response.success ? 1 : 0, response.error_message.data);
      fflush(stdout);
      return 0;
    }
  }
  fprintf(stderr, "no response from %s\n", argv[1]);
  return 1;
}
