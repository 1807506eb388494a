using System.Text.Json;
using System.Text.Json.Nodes;

namespace Polynic.Management.Http.Tests;

/// <summary>
/// The OpenAPI document the server generates is the one checked in as schemas/polynic-api.json,
/// so every change to the API shows in review. Set POLYNIC_UPDATE_SCHEMAS=1 to rewrite the file.
/// </summary>
public sealed class OpenApiDocumentTests
{
    [Fact]
    public async Task The_served_openapi_document_matches_the_checked_in_schema_and_lists_every_resource()
    {
        await using var server = await ApiServerFixture.StartAsync();
        string served = await server.Client.GetStringAsync("openapi/v1.json");
        var document = JsonNode.Parse(served)!;
        var paths = document["paths"]!.AsObject().Select(p => p.Key).ToList();
        foreach (var expected in new[] { "/api/v1/modules", "/api/v1/modules/validate", "/api/v1/modules/{name}", "/api/v1/personalities", "/api/v1/nics", "/api/v1/nics/{name}", "/api/v1/nics/{name}/faults" })
            Assert.Contains(expected, paths);

        string pretty = document.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
        string file = Path.Combine(RepositoryRoot(), "schemas", "polynic-api.json");
        if (Environment.GetEnvironmentVariable("POLYNIC_UPDATE_SCHEMAS") == "1") await File.WriteAllTextAsync(file, pretty);
        Assert.True(File.Exists(file), $"{file} is missing; run the tests once with POLYNIC_UPDATE_SCHEMAS=1");
        Assert.True(pretty == await File.ReadAllTextAsync(file),
            $"the API changed: {file} differs from what the server serves; review the change and run the tests with POLYNIC_UPDATE_SCHEMAS=1 to update it");
    }

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Polynic.slnx"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Polynic.slnx not found above " + AppContext.BaseDirectory);
    }
}
