using System.Text.Json;

namespace Polynic.Rig;

/// <summary>One JSON style for the rig's manifests: readable by a person browsing the cache.</summary>
internal static class RigJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };
}
