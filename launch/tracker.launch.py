"""Launch mot_ros's tracker_node next to a camera driver.

Example:
    ros2 launch mot_ros tracker.launch.py image_topic:=/camera/image_raw \
        model:=/opt/models/yolov8n.pt device:=cuda

Nothing here evaluates argument strings or installs anything: arguments are
passed through as parameter values and remappings only. The three tables
below say what each argument becomes; test/test_launch_file.py checks them
against the parameter schema without the launch package.
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction, SetEnvironmentVariable
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

PACKAGE = "mot_ros"

PARAMETER_ARGUMENTS = {"model": "string", "device": "string", "compressed": "bool", "use_depth": "bool",
                       "use_sim_time": "bool"}
"""Arguments that set the node parameter of the same name, when not empty (over the params file)."""
REMAP_ARGUMENTS = {"image_topic": "image", "depth_topic": "depth", "camera_info_topic": "camera_info"}
"""Arguments that remap the node's relative input topic, when not empty."""
LAUNCH_ARGUMENTS = ("namespace", "node_name", "params_file", "fastdds_profile")
"""Arguments of the launch itself."""


def _tracker(context, *args, **kwargs):
    """Build the node from the arguments' values."""
    def get(name):
        return LaunchConfiguration(name).perform(context)

    overrides = {name: (get(name).lower() == "true" if kind == "bool" else get(name))
                 for name, kind in PARAMETER_ARGUMENTS.items() if get(name)}
    remappings = [(topic, get(arg)) for arg, topic in REMAP_ARGUMENTS.items() if get(arg)]
    if get("image_topic"):
        remappings.append(("image/compressed", get("image_topic").rstrip("/") + "/compressed"))
    return [Node(
        package=PACKAGE,
        executable="tracker_node",
        name=get("node_name"),
        namespace=get("namespace"),
        parameters=[get("params_file"), overrides],
        remappings=remappings,
        output="screen",
        emulate_tty=True,
        # numpy's BLAS threads only fight the detector for cores on small association matrices
        additional_env={"OPENBLAS_NUM_THREADS": "1"},
    )]


def generate_launch_description() -> LaunchDescription:
    """Declare the arguments; the node is built when they are known."""
    share = get_package_share_directory(PACKAGE)
    profile = os.path.join(share, "config", "fastdds_large_images.xml")
    return LaunchDescription([
        DeclareLaunchArgument("namespace", default_value="",
                              description="Namespace of the tracker node and its relative topics."),
        DeclareLaunchArgument("node_name", default_value="tracker_node", description="Name of the tracker node."),
        DeclareLaunchArgument("params_file", default_value=os.path.join(share, "config", "tracker.yaml"),
                              description="ROS 2 params file (see config/tracker.yaml, traffic.yaml, people.yaml)."),
        DeclareLaunchArgument("image_topic", default_value="/camera/image_raw",
                              description="Camera topic to track (sensor_msgs/Image). With compressed:=true the "
                                          "node subscribes to <image_topic>/compressed."),
        DeclareLaunchArgument("model", default_value="",
                              description="Detector weights (.pt/.onnx/.engine); empty keeps the params file's."),
        DeclareLaunchArgument("device", default_value="", choices=["", "auto", "cpu", "cuda", "cuda:0", "cuda:1"],
                              description="Inference device; empty keeps the params file's (default auto)."),
        DeclareLaunchArgument("compressed", default_value="false", choices=["true", "false"],
                              description="Subscribe to sensor_msgs/CompressedImage (jpeg/png) instead of Image."),
        DeclareLaunchArgument("use_depth", default_value="", choices=["", "true", "false"],
                              description="Track in 3D from depth_topic and camera_info_topic; empty keeps the "
                                          "params file's (default false)."),
        DeclareLaunchArgument("depth_topic", default_value="",
                              description="Depth image registered to the colour image (16UC1 mm or 32FC1 m), e.g. "
                                          "/camera/camera/aligned_depth_to_color/image_raw; empty keeps 'depth'."),
        DeclareLaunchArgument("camera_info_topic", default_value="",
                              description="CameraInfo of the colour camera, e.g. /camera/camera/color/camera_info; "
                                          "empty keeps 'camera_info'."),
        DeclareLaunchArgument("use_sim_time", default_value="false", choices=["true", "false"],
                              description="Use /clock, e.g. when replaying a rosbag."),
        DeclareLaunchArgument("fastdds_profile", default_value=profile,
                              description="Fast DDS profile for large images, applied to every process this "
                                          "launch starts; empty to keep your own."),
        SetEnvironmentVariable("FASTRTPS_DEFAULT_PROFILES_FILE", LaunchConfiguration("fastdds_profile")),
        OpaqueFunction(function=_tracker),
    ])
