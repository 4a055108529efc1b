"""JupyterHub configuration for the course hub (Docker deployment).

Everything site-specific comes from the environment, so the same file serves the
local demo, the end-to-end tests and an Ansible-deployed VM. Required variables:

  JUPYTERHUB_CRYPT_KEY                                     encrypts auth_state
  DOCKER_NETWORK_NAME, SINGLEUSER_IMAGE, HUB_CONNECT_HOST  DockerSpawner
  GRADER_SERVICE_URL, GRADER_SERVICE_API_TOKEN            the grading service

DOCKER_NETWORK_NAME is the student servers' own network: besides them only the hub
(HUB_CONNECT_HOST) and the grading service (GRADER_SERVICE_URL's host) join it, so a
student's code reaches those two and nothing else (scripts/localstack.py, Ansible).

HUB_AUTHENTICATOR picks the login: "oidc" (default) or "lti13". It then requires

  oidc:  OIDC_AUTHORIZE_URL, OIDC_TOKEN_URL, OIDC_USERDATA_URL   IdP endpoints
         OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OAUTH_CALLBACK_URL   the hub's OAuth client
  lti13: LTI13_ISSUER                 the LMS platform's issuer ("iss" of its id_tokens)
         LTI13_CLIENT_ID              the hub's client id(s) in the LMS, comma-separated
         LTI13_AUTHORIZE_URL          the LMS's OIDC authorization endpoint
         LTI13_JWKS_URL               the LMS's public keys (JWKS)
         LTI13_DEPLOYMENT_IDS         the LMS deployment id(s) of the tool, comma-separated
                                      (launches from any other deployment are refused)
         LTI13_CONTEXT_COURSES        LMS course -> our course id, comma-separated
                                      "<deployment id>/<context id>=<course id>" pairs,
                                      e.g. "1:3f2a9c/4dde05e8ca19=dl101" (the context
                                      id, never the label: any course owner sets labels)

Optional: COURSE_IDS (comma-separated, default "dl101"), ROLL_NUMBER_CLAIM,
OIDC_SCOPES, OIDC_LOGIN_SERVICE, LTI13_ROLL_NUMBER_CLAIM (default
"[https://purl.imsglobal.org/spec/lti/claim/lis].person_sourcedid", the SIS id; dots
reach nested claims, a [bracketed] key is literal), LTI13_USERNAME_CLAIM (id_token
claim whose value, hashed with the issuer, names the hub user: default "sub", the LMS's
stable user id; "custom_x" reads x from the LTI custom claim; email and names are
refused, users can change them), SINGLEUSER_MEM_LIMIT, SINGLEUSER_CPU_LIMIT, USER_CONTAINER_PREFIX,
HUB_OPS_API_TOKEN (an admin service token for ops scripts and tests),
PROXY_API_URL (the REST API of a configurable-http-proxy in its own container, which
the hub then does not start; CONFIGPROXY_AUTH_TOKEN is its token),
HUB_CULL_IDLE_SECONDS (stop servers idle this long; default 3600, 0 = never),
HUB_KERNEL_CULL_SECONDS (shut down kernels idle this long; default 3600, 0 = never),
HUB_SPAWN_SLOTS (servers started at once, the others wait in line on the pending page;
default one per core), HUB_SPAWN_QUEUE_LIMIT (starts pending at once, in line or
starting, past which the hub answers 429; default 400),
COURSE_CONTACT (whom students ask, shown under every error page's message).
The LMS registers the hub as a tool with login URL <hub>/hub/lti13/oauth_login and
redirect URL <hub>/hub/lti13/oauth_callback (<hub>/hub/lti13/config describes it).
"""

import os
import sys

from course_hub.roles import course_groups
from course_hub.spawner_hooks import make_auth_state_hook

c = get_config()  # noqa: F821


def env(name, default=None):
    """Read a setting from the environment; a missing required one stops the hub."""
    value = os.environ.get(name, default)
    if value is None:
        raise SystemExit(f"jupyterhub_config: environment variable {name} is required")
    return value


course_ids = [x.strip() for x in env("COURSE_IDS", "dl101").split(",") if x.strip()]
primary_course = course_ids[0]

# --- Hub and proxy -----------------------------------------------------------------
c.JupyterHub.bind_url = "http://:8000"
c.JupyterHub.hub_ip = "0.0.0.0"
c.JupyterHub.hub_connect_ip = env("HUB_CONNECT_HOST")
c.JupyterHub.db_url = env("JUPYTERHUB_DB_URL", "sqlite:////srv/jupyterhub/jupyterhub.sqlite")
c.JupyterHub.cookie_secret_file = "/srv/jupyterhub/jupyterhub_cookie_secret"

# Pages for people: refusals once, readable, with whom to ask (course_hub.pages)
from course_hub.pages import TEMPLATES, template_vars  # noqa: E402

c.JupyterHub.template_paths = [TEMPLATES]
c.JupyterHub.template_vars = template_vars(env("COURSE_CONTACT", ""))
c.ConfigurableHTTPProxy.pid_file = "/srv/jupyterhub/jupyterhub-proxy.pid"
# A hub restart (a redeploy, a changed setting) leaves the student servers running, as
# z2jh and TLJH do: on start the hub finds them again in its database. With PROXY_API_URL
# (and CONFIGPROXY_AUTH_TOKEN, read by both) the proxy runs in a container of its own, as
# Ansible deploys it and z2jh does: its routes outlive a hub restart, so open tabs keep
# talking to their servers while the hub is away. Without it (make demo) the proxy is the
# hub's child in the same container: it restarts with the hub and open tabs lose their
# connection for the seconds until the new hub has re-added a route per running server.
proxy_api_url = os.environ.get("PROXY_API_URL")
if proxy_api_url:
    c.ConfigurableHTTPProxy.should_start = False
    c.ConfigurableHTTPProxy.api_url = proxy_api_url
c.JupyterHub.cleanup_servers = False
# /hub/metrics needs a token with read:metrics: Prometheus scrapes as the "prometheus"
# service (HUB_PROMETHEUS_API_TOKEN; the same token is the grader's GRADER_METRICS_TOKEN)
c.JupyterHub.authenticate_prometheus = True

# --- Login: OIDC or an LTI 1.3 launch, the roll number from a claim -------------------
def pairs(text):
    """{"a": "x", "b": "y"} from "a=x,b=y" (the LTI13_CONTEXT_COURSES format)."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    if any("=" not in item for item in items):
        raise SystemExit(f"jupyterhub_config: expected key=value pairs, got {text!r}")
    return {key.strip(): value.strip() for key, value in (i.rsplit("=", 1) for i in items)}


login = env("HUB_AUTHENTICATOR", "oidc")
if login == "oidc":
    c.JupyterHub.authenticator_class = "course-oauth"
    c.CourseOAuthenticator.authorize_url = env("OIDC_AUTHORIZE_URL")
    c.CourseOAuthenticator.token_url = env("OIDC_TOKEN_URL")
    c.CourseOAuthenticator.userdata_url = env("OIDC_USERDATA_URL")
    c.CourseOAuthenticator.client_id = env("OIDC_CLIENT_ID")
    c.CourseOAuthenticator.client_secret = env("OIDC_CLIENT_SECRET")
    c.CourseOAuthenticator.oauth_callback_url = env("OAUTH_CALLBACK_URL")
    c.CourseOAuthenticator.scope = env("OIDC_SCOPES", "openid profile email").split()
    c.CourseOAuthenticator.login_service = env("OIDC_LOGIN_SERVICE", "University login")
    c.CourseOAuthenticator.username_claim = "preferred_username"
    c.CourseOAuthenticator.roll_number_claim = env("ROLL_NUMBER_CLAIM", "roll_number")
    c.CourseOAuthenticator.auth_state_groups_key = "oauth_user.groups"
    c.CourseOAuthenticator.allowed_groups = course_groups(course_ids)
elif login == "lti13":
    c.JupyterHub.authenticator_class = "course-lti13"
    c.CourseLTI13Authenticator.issuer = env("LTI13_ISSUER")
    c.CourseLTI13Authenticator.client_id = {x.strip() for x in env("LTI13_CLIENT_ID").split(",")}
    c.CourseLTI13Authenticator.authorize_url = env("LTI13_AUTHORIZE_URL")
    c.CourseLTI13Authenticator.jwks_endpoint = env("LTI13_JWKS_URL")
    from course_hub.lti import EDITABLE_CLAIMS

    deployment_ids = {x.strip() for x in env("LTI13_DEPLOYMENT_IDS").split(",") if x.strip()}
    if not deployment_ids:
        raise SystemExit("jupyterhub_config: LTI13_DEPLOYMENT_IDS names no deployment: give "
                         "the LMS deployment id(s) of this tool (empty no longer means any)")
    context_courses = pairs(env("LTI13_CONTEXT_COURSES"))
    unknown = set(context_courses.values()) - set(course_ids)
    if unknown:
        raise SystemExit(f"jupyterhub_config: LTI13_CONTEXT_COURSES names courses not in "
                         f"COURSE_IDS: {sorted(unknown)}")
    unscoped = sorted(k for k in context_courses
                      if not any(k.startswith(f"{d}/") and k != f"{d}/" for d in deployment_ids))
    if unscoped:
        raise SystemExit(f"jupyterhub_config: LTI13_CONTEXT_COURSES keys must be "
                         f"<deployment id>/<context id> with a deployment from "
                         f"LTI13_DEPLOYMENT_IDS, not {unscoped} (context labels are no longer "
                         f"accepted: any LMS course owner can set them)")
    c.CourseLTI13Authenticator.context_courses = context_courses
    c.CourseLTI13Authenticator.deployment_ids = deployment_ids
    if "LTI13_ROLL_NUMBER_CLAIM" in os.environ:
        c.CourseLTI13Authenticator.roll_number_claim = env("LTI13_ROLL_NUMBER_CLAIM")
    username_claim = env("LTI13_USERNAME_CLAIM", "sub").strip() or "sub"
    if username_claim in EDITABLE_CLAIMS:
        raise SystemExit(f"jupyterhub_config: LTI13_USERNAME_CLAIM={username_claim!r} cannot "
                         f"name hub accounts (users can change or duplicate it in the LMS); "
                         f"use sub (the default) or a custom_<name> claim with a stable id")
    c.CourseLTI13Authenticator.username_key = username_claim
else:
    raise SystemExit(f"jupyterhub_config: HUB_AUTHENTICATOR must be oidc or lti13, "
                     f"not {login!r}")
c.Authenticator.enable_auth_state = True
c.Authenticator.manage_groups = True

# --- Single-user servers in Docker ---------------------------------------------------
prefix = env("USER_CONTAINER_PREFIX", "dlcourse")
from dockerspawner import DockerSpawner  # noqa: E402

from course_hub.spawn_queue import queued  # noqa: E402

# Servers start HUB_SPAWN_SLOTS at a time, first come first served; the pending page
# tells each waiting student their place (course_hub.spawn_queue, docs/capacity.md).
c.JupyterHub.spawner_class = queued(DockerSpawner)
c.JupyterHub.concurrent_spawn_limit = int(env("HUB_SPAWN_QUEUE_LIMIT", "400"))
# a spawn still going after 3 s shows the pending page (place in line, progress), not a
# blank 10 s wait
c.JupyterHub.tornado_settings = {"slow_spawn_timeout": 3}
c.DockerSpawner.image = env("SINGLEUSER_IMAGE")
c.DockerSpawner.network_name = env("DOCKER_NETWORK_NAME")
c.DockerSpawner.use_internal_ip = True
c.DockerSpawner.remove = True
c.DockerSpawner.prefix = prefix
c.DockerSpawner.name_template = "{prefix}-user-{username}"
# Work survives server restarts: one named volume per user, seeded from the image's
# home directory (course release notebooks) the first time.
c.DockerSpawner.volumes = {f"{prefix}-home-{{username}}": "/home/jovyan"}
c.DockerSpawner.notebook_dir = "/home/jovyan"
c.DockerSpawner.mem_limit = env("SINGLEUSER_MEM_LIMIT", "2G")
c.DockerSpawner.cpu_limit = float(env("SINGLEUSER_CPU_LIMIT", "1"))
c.DockerSpawner.cmd = ["jupyterhub-singleuser"]
kernel_cull_seconds = int(env("HUB_KERNEL_CULL_SECONDS", "3600"))
if kernel_cull_seconds > 0:  # a forgotten kernel holds its memory until culled
    c.Spawner.args = [f"--MappingKernelManager.cull_idle_timeout={kernel_cull_seconds}",
                      "--MappingKernelManager.cull_interval=300"]
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 90

grader_url = env("GRADER_SERVICE_URL")
c.Spawner.auth_state_hook = make_auth_state_hook(primary_course, grader_url)

# --- The grading service and its permissions -----------------------------------------
c.JupyterHub.services = [
    {
        "name": "grader",
        "url": grader_url,
        "api_token": env("GRADER_SERVICE_API_TOKEN"),
        # the results page (/services/grader/, "grader" in the hub's Services menu): users
        # log in to it through the hub's OAuth, without a confirmation page
        "display": True,
        "oauth_no_confirm": True,
        "oauth_client_allowed_scopes": ["access:services!service=grader"],
    }
]
roles = [
    {
        "name": "grader-service",
        "description": "Identify callers, read their course groups and roll number",
        "scopes": ["read:users", "read:users:groups", "read:groups", "admin:auth_state"],
        "services": ["grader"],
    },
    {
        # Every user may open the grading service's results page (it shows each only
        # their own results, and instructors their courses).
        "name": "user",
        "scopes": ["self", "access:services!service=grader"],
    },
    {
        # The token in each single-user server identifies its owner to the grading
        # service (name and course groups), and nothing more.
        "name": "server",
        "scopes": ["users:activity!user", "access:servers!server",
                   "read:users:name!user", "read:users:groups!user"],
    },
]
ops_token = os.environ.get("HUB_OPS_API_TOKEN")
if ops_token:
    c.JupyterHub.services.append({"name": "ops", "api_token": ops_token})
    roles.append({"name": "ops", "scopes": ["admin:users", "admin:servers", "tokens",
                                            "admin:auth_state", "admin:groups", "list:users",
                                            "read:services"],
                  "services": ["ops"]})
prometheus_token = os.environ.get("HUB_PROMETHEUS_API_TOKEN")
if prometheus_token:  # the scrape token of /hub/metrics (nothing else)
    c.JupyterHub.services.append({"name": "prometheus", "api_token": prometheus_token})
    roles.append({"name": "prometheus", "scopes": ["read:metrics"],
                  "services": ["prometheus"]})

# --- Stopping idle servers -----------------------------------------------------------
# A 300-student class fits one VM only if servers left open overnight are stopped
# (home volumes stay). HUB_CULL_IDLE_SECONDS=0 turns the culler off.
cull_seconds = int(os.environ.get("HUB_CULL_IDLE_SECONDS", "3600"))
if cull_seconds > 0:
    c.JupyterHub.services.append({
        "name": "idle-culler",
        "command": [sys.executable, "-m", "jupyterhub_idle_culler",
                    f"--timeout={cull_seconds}", "--cull-every=300"],
    })
    roles.append({"name": "idle-culler", "services": ["idle-culler"],
                  "scopes": ["list:users", "read:users:activity", "read:servers",
                             "delete:servers"]})
c.JupyterHub.load_roles = roles

# --- Site settings without an image rebuild ------------------------------------------
# Every *.py in JUPYTERHUB_CONFIG_D (default /etc/jupyterhub/config.d; Ansible mounts
# one, read-only) runs last, in name order, with this file's `c`: it overrides what is
# set above (spawn timeouts, limits, ...). A missing folder is fine.
config_d = env("JUPYTERHUB_CONFIG_D", "/etc/jupyterhub/config.d")
if os.path.isdir(config_d):
    for config_file in sorted(os.listdir(config_d)):
        path = os.path.join(config_d, config_file)
        if config_file.endswith(".py") and os.path.isfile(path):
            print(f"jupyterhub_config: loading {path}", file=sys.stderr)
            with open(path) as f:
                exec(compile(f.read(), path, "exec"))  # noqa: S102  (the z2jh way)
