# Cluster tests (label "cluster"; tests/cluster/): the etcd client
# (src/etcd.c) against a real three-member etcd started on loopback ports
# by tests/cluster/etcdlib.py (Debian's etcd-server; skips (77) without
# it). Only in builds with the etcd client (libcurl and json-c found).
#   cluster/etcd      claims exactly once under contention, lease expiry,
#                     leader failover, unreachable and stopped members,
#                     bad endpoints.
#   cluster/evd       cluster = once in evd (one and two nodes): one claim
#                     per instant, records, evdctl cluster, list/status,
#                     cluster_unreachable, fencing (node or etcd frozen),
#                     a node name used twice.
#   cluster/nodes     three evd nodes (cluster = once, every second) over
#                     100+ instants: a node SIGKILLed, the etcd leader
#                     killed, a node frozen past its lease (fencing), a
#                     member frozen; every instant once, losses bounded.
#   cluster/skew      three nodes whose clocks differ by seconds (the
#                     EVD_TEST_WALL_OFFSET hook): no instant twice.
#   cluster/faults    bad etcd URL, etcd unreachable at start, TLS files
#                     missing, a node name twice, one node partitioned.
# The tests of evd nodes take minutes of wall time (leases, instants every
# second): label slow; RESOURCE_LOCK etcd keeps the three-member clusters
# of two tests from running at once on a small machine.
# Included by tests/CMakeLists.txt.
if(EVD_HAVE_ETCD)
  add_executable(etcd_driver ${CMAKE_CURRENT_SOURCE_DIR}/cluster/etcd_driver.c)
  target_link_libraries(etcd_driver PRIVATE evdcore)
  if(EXISTS /usr/bin/python3)
    set(EVD_CLUSTER_PYTHON /usr/bin/python3)
  else()
    find_program(EVD_CLUSTER_PYTHON python3 REQUIRED)
  endif()
  add_test(NAME cluster/etcd
           COMMAND ${EVD_CLUSTER_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/cluster/test_etcd.py
                   $<TARGET_FILE:etcd_driver>)
  set_tests_properties(cluster/etcd PROPERTIES
                       LABELS "cluster" TIMEOUT 300 SKIP_RETURN_CODE 77 COST 50 RESOURCE_LOCK etcd
                       ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
  add_test(NAME cluster/evd
           COMMAND ${EVD_CLUSTER_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/cluster/test_evd_cluster.py $<TARGET_FILE:evd>)
  set_tests_properties(cluster/evd PROPERTIES
                       LABELS "cluster;cluster-evd;slow" TIMEOUT 600 SKIP_RETURN_CODE 77 COST 80 RESOURCE_LOCK etcd
                       ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1;EVD_TEST_HOOKS=1")
  # The tests of evd nodes on a real etcd: each script gets the evd binary.
  if(EVD_SANITIZE)
    set(EVD_CLUSTER_ENV "EVD_E2E_SLOW=1")
  else()
    set(EVD_CLUSTER_ENV "EVD_E2E_SLOW=0")
  endif()
  foreach(t nodes skew faults)
    add_test(NAME cluster/${t}
             COMMAND ${EVD_CLUSTER_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/cluster/test_${t}.py $<TARGET_FILE:evd>)
    set_tests_properties(cluster/${t} PROPERTIES
                         LABELS "cluster;slow" TIMEOUT 400 SKIP_RETURN_CODE 77 COST 60 RESOURCE_LOCK etcd
                         ENVIRONMENT "${EVD_CLUSTER_ENV};PYTHONDONTWRITEBYTECODE=1")
  endforeach()
endif()
