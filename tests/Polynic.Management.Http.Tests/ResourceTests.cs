using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Polynic.Management.Http.Tests;

/// <summary>
/// Every resource of the API against a real server host: a module loaded, a NIC created, read,
/// refused faults, removed, the module unloaded; and each error answered as problem+json with a
/// message that names what is wrong.
/// </summary>
public sealed class ResourceTests
{
    [Fact]
    public async Task A_module_and_a_nic_go_through_their_whole_life_over_the_api()
    {
        await using var server = await ApiServerFixture.StartAsync();
        var client = server.Client;

        var validated = await client.PostAsJsonAsync("api/v1/modules/validate", new { path = ApiServerFixture.E1000Module });
        Assert.Equal(HttpStatusCode.OK, validated.StatusCode);
        Assert.Equal("valid", (await validated.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("state").GetString());

        var loaded = await client.PostAsJsonAsync("api/v1/modules", new { path = ApiServerFixture.E1000Module });
        Assert.Equal(HttpStatusCode.Created, loaded.StatusCode);
        var module = await loaded.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("loaded", module.GetProperty("state").GetString());
        string moduleName = module.GetProperty("name").GetString()!;
        Assert.EndsWith("/api/v1/modules/" + moduleName, loaded.Headers.Location!.ToString());

        var personalities = await client.GetFromJsonAsync<JsonElement>("api/v1/personalities");
        Assert.Contains(personalities.EnumerateArray(), p => p.GetProperty("name").GetString() == "e1000");
        var modules = await client.GetFromJsonAsync<JsonElement>("api/v1/modules");
        Assert.Contains(modules.EnumerateArray(), m => m.GetProperty("name").GetString() == moduleName);

        string socket = Path.Combine(server.Work, "vm1.sock");
        var added = await client.PostAsJsonAsync("api/v1/nics", new { spec = $"e1000:{socket},unplugged,name=vm1" });
        Assert.Equal(HttpStatusCode.Created, added.StatusCode);
        var created = await added.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("vm1", created.GetProperty("nic").GetProperty("name").GetString());
        Assert.True(File.Exists(socket), "the NIC's vfio-user socket was not created");

        var nic = await client.GetFromJsonAsync<JsonElement>("api/v1/nics/vm1");
        Assert.Equal("serving", nic.GetProperty("state").GetString());
        Assert.Equal("e1000", nic.GetProperty("personality").GetString());
        Assert.False(nic.GetProperty("connected").GetBoolean());

        // Unloading a module a NIC still uses conflicts with the server's state.
        var busy = await client.DeleteAsync($"api/v1/modules/{moduleName}");
        await AssertProblemAsync(busy, HttpStatusCode.Conflict, "vm1");
        // Faults need fault injection configured on the port.
        var faults = await client.PutAsJsonAsync("api/v1/nics/vm1/faults", new { spec = "drop=0.5" });
        await AssertProblemAsync(faults, HttpStatusCode.Conflict, "fault injection");

        var removed = await client.DeleteAsync("api/v1/nics/vm1");
        Assert.Equal(HttpStatusCode.OK, removed.StatusCode);
        Assert.Empty(await server.NicNamesAsync());
        Assert.False(File.Exists(socket));
        var unloaded = await client.DeleteAsync($"api/v1/modules/{moduleName}");
        Assert.Equal(HttpStatusCode.NoContent, unloaded.StatusCode);
        Assert.DoesNotContain((await client.GetFromJsonAsync<JsonElement>("api/v1/personalities")).EnumerateArray(), p => p.GetProperty("name").GetString() == "e1000");
    }

    [Fact]
    public async Task Bad_requests_get_a_problem_that_says_what_is_wrong_and_change_nothing()
    {
        await using var server = await ApiServerFixture.StartAsync();
        var client = server.Client;
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsJsonAsync("api/v1/modules", new { path = ApiServerFixture.E1000Module })).StatusCode);

        await AssertProblemAsync(await client.GetAsync("api/v1/nics/nope"), HttpStatusCode.NotFound, "nope");
        await AssertProblemAsync(await client.DeleteAsync("api/v1/nics/nope"), HttpStatusCode.NotFound, "nope");
        await AssertProblemAsync(await client.DeleteAsync("api/v1/modules/nope"), HttpStatusCode.NotFound, "nope");
        await AssertProblemAsync(await client.PostAsJsonAsync("api/v1/modules", new { path = "relative/module.dll" }), HttpStatusCode.BadRequest, "absolute");
        await AssertProblemAsync(await client.PostAsJsonAsync("api/v1/modules", new { }), HttpStatusCode.BadRequest, "path");
        await AssertProblemAsync(await client.PostAsJsonAsync("api/v1/nics", new { spec = "nonsense" }), HttpStatusCode.BadRequest, "PERSONALITY:SOCKET");
        await AssertProblemAsync(await client.PostAsJsonAsync("api/v1/nics", new { spec = $"nosuch:{server.Work}/x.sock" }), HttpStatusCode.UnprocessableEntity, "nosuch");
        await AssertProblemAsync(await client.PostAsJsonAsync("api/v1/nics", new { spec = $"e1000:{server.Work}/x.sock,unplugged,tap=pn9" }), HttpStatusCode.BadRequest, "more than one port");

        // A module file that is not a module: refused, with the catalog's entry for it.
        string junk = Path.Combine(server.Work, "junk.dll");
        await File.WriteAllTextAsync(junk, "not an assembly");
        var refused = await client.PostAsJsonAsync("api/v1/modules", new { path = junk });
        var problem = await AssertProblemAsync(refused, HttpStatusCode.UnprocessableEntity, "");
        Assert.Equal("junk", problem.GetProperty("module").GetProperty("name").GetString());

        // Not JSON, JSON of the wrong shape, and a body past the limit: 400/413 before anything runs.
        foreach (var body in new[] { "{bad", "[1,2]", "\"spec\"", "null" })
        {
            var response = await client.PostAsync("api/v1/nics", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
        var huge = await client.PostAsync("api/v1/nics", new StringContent($"{{\"spec\":\"{new string('a', 100_000)}\"}}", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, huge.StatusCode);

        Assert.Empty(await server.NicNamesAsync());
    }

    internal static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string detailContains)
    {
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(body).RootElement;
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        Assert.Contains(detailContains, problem.GetProperty("detail").GetString(), StringComparison.OrdinalIgnoreCase);
        return problem;
    }
}
