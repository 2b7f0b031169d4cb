# A spawner hook that reads the LTI launch (course and roles) from auth_state and
# prepares each user's server for the course they came from.
#
# Load it after your main config, e.g. in jupyterhub_config.py:
#     load_subconfig("course_environment_config.py")
# auth_state must be enabled (and JUPYTERHUB_CRYPT_KEY set) for spawners to see it.
c = get_config()  # noqa

c.Authenticator.enable_auth_state = True

CONTEXT_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/context"
ROLES_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/roles"
INSTRUCTOR_ROLES = (
    "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor",
    "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant",
    "Instructor",
)

# Per course (by its label in the LMS): where JupyterLab opens, and, for spawners that
# support it (KubeSpawner's `image`, DockerSpawner's `image`), which environment to run.
COURSES = {
    "DATA101": {"default_url": "/lab/tree/DATA101", "image": "quay.io/jupyter/scipy-notebook"},
    "PHYS201": {"default_url": "/lab/tree/PHYS201", "image": "quay.io/jupyter/julia-notebook"},
}


def course_environment(spawner, auth_state):
    """Called by JupyterHub before each spawn with the user's latest launch claims."""
    if not auth_state:
        return  # not launched from the LMS (or auth_state disabled)
    context = auth_state.get(CONTEXT_CLAIM) or {}
    roles = auth_state.get(ROLES_CLAIM) or []
    label = context.get("label", "")
    is_instructor = any(role in INSTRUCTOR_ROLES for role in roles)

    spawner.environment["LTI_COURSE_ID"] = context.get("id", "")
    spawner.environment["LTI_COURSE_LABEL"] = label
    spawner.environment["LTI_IS_INSTRUCTOR"] = "1" if is_instructor else "0"

    course = COURSES.get(label)
    if course:
        spawner.default_url = course["default_url"]
        if hasattr(spawner, "image"):
            spawner.image = course["image"]


c.Spawner.auth_state_hook = course_environment
