using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Polynic.Management.Http.Tests;

/// <summary>With a certificate the API speaks HTTPS, which is what lets it listen where other machines can reach it.</summary>
public sealed class TlsTests
{
    [Fact]
    public async Task With_a_pem_certificate_the_api_serves_https_also_on_an_address_other_machines_reach()
    {
        string work = Directory.CreateTempSubdirectory("polynic-tls-").FullName;
        try
        {
            using var key = RSA.Create(2048);
            var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
            string pem = Path.Combine(work, "api.pem");
            await File.WriteAllTextAsync(pem, certificate.ExportCertificatePem() + "\n" + key.ExportPkcs8PrivateKeyPem() + "\n");

            await using var server = await ApiServerFixture.StartAsync(w => new HttpApiOptions { Listen = "0.0.0.0:0", Certificate = pem, TokenFile = Path.Combine(w, "t") });
            Assert.Equal("https", server.Api.Url.Scheme);
            using var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, presented, _, _) => presented?.Thumbprint == certificate.Thumbprint };
            using var client = new HttpClient(handler) { BaseAddress = new Uri($"https://127.0.0.1:{server.Api.Url.Port}/") };
            client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", server.Api.Token);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("api/v1/nics")).StatusCode);
            // Bound to every address, it answers under any IP address of the machine, never under a name (DNS rebinding).
            var byName = new HttpRequestMessage(HttpMethod.Get, "api/v1/nics");
            byName.Headers.Host = $"attacker.example:{server.Api.Url.Port}";
            Assert.Equal(HttpStatusCode.MisdirectedRequest, (await client.SendAsync(byName)).StatusCode);

            // A certificate file without its key is refused with what to give.
            await File.WriteAllTextAsync(pem, certificate.ExportCertificatePem());
            var refused = await Assert.ThrowsAsync<IOException>(() => ApiServerFixture.StartAsync(w => new HttpApiOptions { Listen = "127.0.0.1:0", Certificate = pem, TokenFile = Path.Combine(w, "t") }));
            Assert.Contains("private key", refused.Message);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}
