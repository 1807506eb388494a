using System.Text.Json;
using System.Text.Json.Serialization;
using Polynic.Rig.Cache;
using Polynic.Rig.Image;

namespace Polynic.Rig;

/// <summary>
/// One JSON style for the rig's manifests (readable by a person browsing the cache), source
/// generated so the rig also works in trimmed or AOT hosts where reflection JSON is off.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true,
    ReadCommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true)]
[JsonSerializable(typeof(RootManifest))]
[JsonSerializable(typeof(ImageManifest))]
[JsonSerializable(typeof(GuestImageRecipe))]
internal sealed partial class RigJson : JsonSerializerContext;
